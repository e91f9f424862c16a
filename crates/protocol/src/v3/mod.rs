//! LeanCloud's realtime protocol v3, as the current SDKs (JS 4.x/5.x, Android,
//! iOS, Flutter) speak it: protobuf `GenericCommand` frames under the `lc.protobuf2.*`
//! and `lc.proto2base64.*` subprotocols.
//!
//! v3 is the v2 model nested: a v2 JSON frame holds `GenericCommand`'s own fields
//! next to the fields of its one sub-message, and its `attr`, `where` and `results`
//! are JSON values where v3 has `JsonObjectMessage` strings. [`codec`] maps between
//! the two, so that one set of domain rules serves both dialects.

pub mod codec;
pub mod quick;
pub mod subprotocol;

pub use codec::{decode, encode, with_peer, CodecError};
pub use subprotocol::Subprotocol;
