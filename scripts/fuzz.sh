#!/usr/bin/env bash
# Runs each cargo-fuzz target of fuzz/ for a bounded time, one target at a time.
#
#   scripts/fuzz.sh [SECONDS]      # default 60 s per target
#
# Needs nightly Rust and cargo-fuzz (`rustup toolchain install nightly`,
# `cargo install cargo-fuzz`). Without them it says so and exits 0, since the same
# corpus runs on stable in `cargo test --workspace` (crates/*/tests/fuzz_corpus.rs);
# set FUZZ_REQUIRED=1 to make that an error. The build is a dev (debug) build unless
# FUZZ_RELEASE=1. New interesting inputs go to fuzz/corpus/<target>/ (libFuzzer's working
# corpus, git-ignored); the committed seeds in fuzz/seeds/<target>/ are read only. A crash
# leaves its input in fuzz/artifacts/<target>/ and makes the script exit 1: copy it to
# fuzz/seeds/<target>/regress-<what>.seed with the fix, and the corpus test keeps it.
set -euo pipefail

SECS="${1:-60}"
cd "$(dirname "$0")/.."

missing() {
  echo "scripts/fuzz.sh: $1; fuzzing skipped (the corpus still runs in cargo test --workspace)" >&2
  if [ "${FUZZ_REQUIRED:-0}" = 1 ]; then exit 2; fi
  exit 0
}
cargo +nightly --version >/dev/null 2>&1 || missing "no nightly toolchain"
cargo +nightly fuzz --version >/dev/null 2>&1 || missing "cargo-fuzz is not installed"

profile=(--dev)
if [ "${FUZZ_RELEASE:-0}" = 1 ]; then profile=(); fi

status=0
for target in server_frames client_frames v3_frames; do
  mkdir -p "fuzz/corpus/$target"
  echo "== $target for ${SECS}s"
  if ! cargo +nightly fuzz run "${profile[@]}" "$target" \
      "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
      -max_total_time="$SECS" -timeout=15 -detect_leaks=0 -rss_limit_mb=3072 \
      -print_final_stats=1; then
    echo "== $target FAILED: see fuzz/artifacts/$target/" >&2
    status=1
  fi
done
exit "$status"
