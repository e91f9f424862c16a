//! The v3 decoder fuzz harness, shared by the cargo-fuzz target `v3_frames` and the
//! stable corpus test `crates/protocol/tests/fuzz_corpus.rs`.
//!
//! An input is one WebSocket frame's bytes. Decoding must not panic; a frame that
//! decodes must encode back without panicking, and a frame that encodes must decode
//! again (the server writes what the v2 handlers answer through the same codec).

use leanrt_protocol::v3::{decode, encode};
use serde_json::Value;

pub fn run(data: &[u8]) {
    let Ok(frame) = decode(data) else {
        return;
    };
    if let Ok(bytes) = encode(&Value::Object(frame)) {
        decode(&bytes).expect("what the encoder writes decodes");
    }
}
