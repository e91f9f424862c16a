//! Compiles `proto/messages2.proto` (the v3 schema) into a descriptor set that the
//! v3 codec loads at run time; pure Rust (protox), so no `protoc` is needed.

fn main() {
    println!("cargo:rerun-if-changed=proto/messages2.proto");
    let mut compiler = protox::Compiler::new(["proto"]).expect("the proto directory");
    compiler
        .open_file("messages2.proto")
        .expect("proto/messages2.proto compiles");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(
        out.join("messages2.bin"),
        compiler.encode_file_descriptor_set(),
    )
    .expect("write the descriptor set");
}
