//! The LeanCloud realtime v2 wire protocol, shared by the leanrt client engine and
//! leanrt-server. Pure data and functions: no IO, no async.
//!
//! See `shared/protocol.md` in the planning repository for the specification this
//! crate implements; section numbers (§) in doc comments refer to it.

pub mod codes;
pub mod command;
pub mod signature;

pub use codes::ErrorCode;
