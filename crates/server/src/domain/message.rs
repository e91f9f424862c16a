//! Stored messages and what `direct` asks the store to append.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::SessionId;

/// A stored message. Within its conversation, `seq` is gap-free and increasing in
/// commit order, and `timestamp` never decreases along it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Mentions, a binary content, a change: `None` for a plain message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extras: Option<Box<Extras>>,
}

/// What a message may carry beside its content (the v3 SDKs send and read these).
/// Stored as keys of the message's `meta` JSON object, beside an import's others.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extras {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mention_pids: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub mention_all: bool,
    /// `data` is the base64 of a binary content (`binaryMsg`; LeanCloud's `bin`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub bin: bool,
    /// When its sender last modified or recalled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_timestamp: Option<i64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Extras {
    /// The keys every change rewrites (a change drops the old mentions and `bin`).
    pub const CONTENT_KEYS: [&'static str; 3] = ["mentionPids", "mentionAll", "bin"];

    /// The extras in a `meta` column's JSON; `None` when it holds none of them (or
    /// holds them in a shape they cannot have).
    pub fn from_meta(meta: Option<&str>) -> Option<Box<Extras>> {
        let extras: Extras = serde_json::from_str(meta?).ok()?;
        (extras != Extras::default()).then(|| Box::new(extras))
    }

    /// The extras as `meta` JSON, `None` when there are none.
    pub fn to_meta(extras: Option<&Extras>) -> Option<String> {
        let extras = extras.filter(|e| **e != Extras::default())?;
        serde_json::to_string(extras).ok()
    }

    /// A message's stored content and extras: a binary content (base64) in place of
    /// the text, and its mentions.
    pub fn content(
        text: String,
        binary: Option<String>,
        mention_pids: Vec<String>,
        mention_all: bool,
    ) -> (String, Option<Box<Extras>>) {
        let extras = Extras {
            mention_pids,
            mention_all,
            bin: binary.is_some(),
            patch_timestamp: None,
        };
        let data = binary.unwrap_or(text);
        (
            data,
            (extras != Extras::default()).then(|| Box::new(extras)),
        )
    }

    /// Whether `client` is mentioned (by name, or as one of all).
    pub fn mentions(&self, client: &str) -> bool {
        self.mention_all || self.mention_pids.iter().any(|p| p == client)
    }
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
    pub extras: Option<Box<Extras>>,
    /// The sending session, which live delivery skips.
    pub origin: Option<SessionId>,
}
