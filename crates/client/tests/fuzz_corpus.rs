//! The committed fuzz seeds (`fuzz/seeds/client_frames`: hand-made seeds and any
//! crash inputs found, kept as regressions) run through the same harness as the
//! cargo-fuzz target `client_frames`, on stable Rust, in `cargo test --workspace`.

#[path = "../../../fuzz/harness/client.rs"]
mod harness;

use std::path::Path;

#[test]
fn the_committed_corpus_passes_the_fuzz_harness() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/client_frames");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    for file in files {
        let data = std::fs::read(&file).expect("read corpus file");
        eprintln!("corpus: {}", file.display());
        harness::run(&data);
    }
}
