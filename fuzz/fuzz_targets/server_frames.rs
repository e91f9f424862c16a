//! Server frame decoding and command dispatch, over a real WebSocket to an in-process
//! leanrt-server (see harness/server.rs for the input format and what is checked).
#![no_main]

#[path = "../harness/server.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
