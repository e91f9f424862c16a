//! Persistent state: conversations, messages and offline queues, behind [`Store`].
//!
//! Every method resolves only after its effect is durable (committed), so a reply sent
//! after awaiting one never promises more than what survives a crash.

mod sqlite;

use futures_util::future::BoxFuture;
use serde_json::{json, Map, Value};

pub use sqlite::SqliteStore;

use crate::query::Query;
use crate::time::iso;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("conversation not found")]
    NotFound,
    #[error("not a member of the conversation")]
    NotMember,
    #[error("conversation is full")]
    Full,
    #[error("invalid update: {0}")]
    InvalidUpdate(String),
    #[error("storage failure: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A `_Conversation` record (§6.2). Times are ms since the epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Conversation {
    pub id: String,
    pub creator: String,
    /// Members in insertion order; always empty for transient conversations.
    pub members: Vec<String>,
    pub muted: Option<Vec<String>>,
    pub name: Option<String>,
    pub attr: Option<Value>,
    pub transient: bool,
    pub system: bool,
    pub unique: bool,
    pub last_message_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Custom top-level keys.
    pub extra: Map<String, Value>,
}

/// Top-level `_Conversation` fields that `conv update` may not set (§6.8).
pub const RESERVED_FIELDS: [&str; 10] = [
    "objectId",
    "c",
    "m",
    "mu",
    "tr",
    "sys",
    "unique",
    "lm",
    "createdAt",
    "updatedAt",
];

impl Conversation {
    /// The record as a document for `where` matching: dates are ms numbers and the
    /// boolean flags are always present.
    pub fn match_doc(&self) -> Value {
        let mut doc = self.extra.clone();
        doc.insert("objectId".into(), json!(self.id));
        doc.insert("c".into(), json!(self.creator));
        if !self.transient {
            doc.insert("m".into(), json!(self.members));
        }
        if let Some(mu) = &self.muted {
            doc.insert("mu".into(), json!(mu));
        }
        if let Some(name) = &self.name {
            doc.insert("name".into(), json!(name));
        }
        if let Some(attr) = &self.attr {
            doc.insert("attr".into(), attr.clone());
        }
        doc.insert("tr".into(), json!(self.transient));
        doc.insert("sys".into(), json!(self.system));
        doc.insert("unique".into(), json!(self.unique));
        if let Some(lm) = self.last_message_at {
            doc.insert("lm".into(), json!(lm));
        }
        doc.insert("createdAt".into(), json!(self.created_at));
        doc.insert("updatedAt".into(), json!(self.updated_at));
        Value::Object(doc)
    }

    /// The record as sent in `conv results` (§6.2): `lm` as a Date object, the other
    /// dates as ISO strings, flags only when set. `compact` omits `m` and `mu`.
    pub fn to_result(&self, compact: bool, last: Option<&Message>) -> Value {
        let mut out = self.extra.clone();
        out.insert("objectId".into(), json!(self.id));
        out.insert("c".into(), json!(self.creator));
        if !compact && !self.transient {
            out.insert("m".into(), json!(self.members));
        }
        if let (false, Some(mu)) = (compact, &self.muted) {
            out.insert("mu".into(), json!(mu));
        }
        if let Some(name) = &self.name {
            out.insert("name".into(), json!(name));
        }
        if let Some(attr) = &self.attr {
            out.insert("attr".into(), attr.clone());
        }
        for (key, set) in [
            ("tr", self.transient),
            ("sys", self.system),
            ("unique", self.unique),
        ] {
            if set {
                out.insert(key.into(), json!(true));
            }
        }
        if let Some(lm) = self.last_message_at {
            out.insert("lm".into(), json!({"__type": "Date", "iso": iso(lm)}));
        }
        out.insert("createdAt".into(), json!(iso(self.created_at)));
        out.insert("updatedAt".into(), json!(iso(self.updated_at)));
        if let Some(msg) = last {
            out.insert("msg".into(), json!(msg.data));
            out.insert("msg_from".into(), json!(msg.from));
            out.insert("msg_mid".into(), json!(msg.id));
            out.insert("msg_timestamp".into(), json!(msg.timestamp));
        }
        Value::Object(out)
    }
}

/// A `conv query` result: the conversation and, when asked for, its last message.
pub type QueryHit = (Conversation, Option<Message>);

/// What `conv start` asks for.
#[derive(Clone, Debug)]
pub struct NewConversation {
    pub creator: String,
    /// Members with the creator first, deduplicated; ignored for transient ones.
    pub members: Vec<String>,
    pub name: Option<String>,
    pub attr: Option<Value>,
    pub extra: Map<String, Value>,
    pub transient: bool,
    pub unique: bool,
    pub now: i64,
}

/// A stored message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub cid: String,
    pub id: String,
    pub from: String,
    pub data: String,
    pub timestamp: i64,
    /// Position in its conversation, assigned at commit.
    pub seq: i64,
    /// Position among all messages of the store, assigned at commit: a message
    /// committed after another has a greater number.
    pub commit: i64,
    pub ack_at: Option<i64>,
}

impl Message {
    /// The message as a `logs` item (§6.6).
    pub fn to_log(&self) -> Value {
        let mut item = json!({
            "from": self.from,
            "data": self.data,
            "timestamp": self.timestamp,
            "msgId": self.id,
        });
        if let Some(at) = self.ack_at {
            item["ackAt"] = json!(at);
        }
        item
    }
}

/// What `direct` stores.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub cid: String,
    pub id: String,
    pub from: String,
    pub data: String,
    pub timestamp: i64,
    pub receipt: bool,
}

/// The result of a membership change.
#[derive(Clone, Debug)]
pub struct MembershipChange {
    /// Ids actually added or removed, in request order.
    pub changed: Vec<String>,
    /// Members after the change.
    pub members: Vec<String>,
}

/// A receipt to send after a recipient's first ack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The sender of the message, who gets the `rcp`.
    pub to: String,
    pub at: i64,
}

/// Sends a receipt that an ack made due.
pub type SendReceipt = Box<dyn FnOnce(Receipt) + Send>;

/// A `logs` bound: a time and optionally a message id that refines it.
#[derive(Clone, Debug, Default)]
pub struct Bound {
    pub timestamp: Option<i64>,
    pub mid: Option<String>,
}

/// A `logs` request.
#[derive(Clone, Debug)]
pub struct LogQuery {
    pub cid: String,
    pub requester: String,
    /// Exclusive upper bound (`t`, `mid`).
    pub before: Bound,
    /// Exclusive lower bound (`tt`, `tmid`).
    pub after: Bound,
    pub limit: usize,
}

/// What a login pushes (§6.5): a snapshot of the messages waiting for a clientId.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Offline {
    /// Pending messages within the caps, oldest first by (timestamp, commit).
    pub messages: Vec<Message>,
    /// The greatest [`Message::commit`] at the time of the snapshot: every message
    /// committed later has a greater number and was not pending yet.
    pub horizon: i64,
}

/// Persistent state of the server. Implementations: [`SqliteStore`].
pub trait Store: Send + Sync + 'static {
    /// Creates a conversation, or for `unique` returns the existing one with the same
    /// member set. The flag tells whether it was created.
    fn create_conversation(
        &self,
        new: NewConversation,
    ) -> BoxFuture<'static, StoreResult<(Conversation, bool)>>;

    fn conversation(&self, cid: String) -> BoxFuture<'static, StoreResult<Option<Conversation>>>;

    /// Adds members to a normal conversation, refusing to exceed `max_members`.
    fn add_members(
        &self,
        cid: String,
        ids: Vec<String>,
        max_members: usize,
        now: i64,
    ) -> BoxFuture<'static, StoreResult<MembershipChange>>;

    fn remove_members(
        &self,
        cid: String,
        ids: Vec<String>,
        now: i64,
    ) -> BoxFuture<'static, StoreResult<MembershipChange>>;

    /// Replaces the value at each path (§6.8) as `actor`; returns the new `updatedAt`.
    fn update_conversation(
        &self,
        cid: String,
        actor: String,
        changes: Vec<(String, Value)>,
        now: i64,
    ) -> BoxFuture<'static, StoreResult<i64>>;

    /// Runs a `conv query`; each result comes with its last message when asked.
    fn query(&self, query: Query) -> BoxFuture<'static, StoreResult<Vec<QueryHit>>>;

    /// Stores a message from a member (anyone for transient conversations), updates
    /// `lm` and queues it for every other member until they ack it.
    fn append_message(
        &self,
        msg: NewMessage,
    ) -> BoxFuture<'static, StoreResult<(Message, Conversation)>>;

    /// Records `client`'s ack of message `mid`, without an answer. Once it is recorded,
    /// `receipt` is called (on any thread) with the receipt to send when this was that
    /// client's first ack and the sender asked for receipts.
    fn ack(&self, client: String, cid: String, mid: String, now: i64, receipt: SendReceipt);

    /// History, oldest first.
    fn logs(&self, query: LogQuery) -> BoxFuture<'static, StoreResult<Vec<Message>>>;

    /// Messages waiting for `client`, oldest first: at most `per_conversation` (the
    /// newest) of each of at most `conversations` conversations (those with the newest
    /// pending messages). Nothing leaves the queue here; only acks remove entries.
    fn offline(
        &self,
        client: String,
        per_conversation: usize,
        conversations: usize,
    ) -> BoxFuture<'static, StoreResult<Offline>>;

    /// Finishes pending writes and releases the backend.
    fn close(&self) -> BoxFuture<'static, ()>;
}
