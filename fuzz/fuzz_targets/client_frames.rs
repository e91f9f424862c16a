//! The client engine's handling of inbound frames, through its public `spawn` with a
//! scripted in-memory socket (see harness/client.rs for the input format and checks).
#![no_main]

#[path = "../harness/client.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
