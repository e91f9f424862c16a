//! The v3 (protobuf) frame decoder and encoder (see harness/v3.rs).
#![no_main]

#[path = "../harness/v3.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
