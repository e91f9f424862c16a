//! The domain: conversations, messages, the rules over them and the query language,
//! shared by every store and every wire dialect. Pure data and functions.

mod conversation;
pub mod event;
mod message;
pub mod query;
pub mod rules;
pub mod temporary;

pub use conversation::Conversation;
pub use message::{Extras, NewMessage, StoredMessage};

/// The device a session logged in from under a `tag` (v3 single-device login):
/// sessions of one clientId with the same tag on other devices are closed (4111).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Device {
    pub tag: String,
    /// `deviceId` (or Swift's `deviceToken`); `""` when the SDK sent none.
    pub id: String,
}

/// One session: the node serving it and its connection number there.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionId {
    pub node: std::sync::Arc<str>,
    pub conn: u64,
}

/// Why the domain refuses an operation; each command maps it to its own code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    NotMember,
    /// Over the member cap.
    Full,
    /// A bad value or path (with a detail).
    Invalid(String),
    /// The record would outgrow its size cap (with a detail).
    TooLarge(String),
    /// A temporary conversation past its expiry: 4303, whatever the command.
    Expired,
}
