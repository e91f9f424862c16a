//! The committed fuzz seeds (`fuzz/seeds/<target>`: hand-made seeds and any crash
//! inputs found, kept as regressions) run through the same harnesses as the
//! cargo-fuzz targets `server_frames` and `v3_frames`, on stable Rust, in
//! `cargo test --workspace`.

#[path = "../../../fuzz/harness/server.rs"]
mod harness;
#[path = "../../../fuzz/harness/v3.rs"]
mod v3_harness;

use std::path::{Path, PathBuf};

/// The seed files of a target, sorted.
fn seeds(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files
}

fn run_each(target: &str, run: fn(&[u8])) {
    for file in seeds(target) {
        let data = std::fs::read(&file).expect("read corpus file");
        eprintln!("corpus: {}", file.display());
        run(&data);
    }
}

#[test]
fn the_committed_corpus_passes_the_fuzz_harness() {
    run_each("server_frames", harness::run);
}

#[test]
fn the_committed_v3_corpus_passes_the_v3_harness() {
    run_each("v3_frames", v3_harness::run);
}
