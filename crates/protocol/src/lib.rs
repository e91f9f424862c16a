//! The LeanCloud realtime wire protocols (v2 JSON, and v3 protobuf in [`v3`]), shared by the leanrt client engine and
//! leanrt-server. Pure data and functions: no IO, no async.
//!
//! See `shared/protocol.md` in the planning repository for the specification this
//! crate implements; section numbers (§) in doc comments refer to it.

pub mod codes;
pub mod command;
pub mod signature;
pub mod v3;

pub use codes::ErrorCode;
