//! Stored messages and what `direct` asks the store to append.

use std::sync::Arc;

use super::SessionId;

/// A stored message. Within its conversation, `seq` is gap-free and increasing in
/// commit order, and `timestamp` never decreases along it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredMessage {
    pub cid: Arc<str>,
    pub seq: i64,
    pub id: String,
    pub from: String,
    pub data: String,
    pub timestamp: i64,
    /// When a recipient first acked it (`ackAt`).
    pub ack_at: Option<i64>,
    /// The sender asked for receipts (`r`).
    pub receipt: bool,
}

/// A message to store.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub cid: String,
    pub id: String,
    pub from: String,
    pub data: String,
    /// The receive time; the store raises it to the conversation's last message time.
    pub timestamp: i64,
    pub receipt: bool,
    /// The sending session, which live delivery skips.
    pub origin: Option<SessionId>,
}
