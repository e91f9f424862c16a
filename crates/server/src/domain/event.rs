//! What the server pushes to online sessions, before any wire dialect renders it.

use std::sync::{Arc, OnceLock};

use super::{Device, Extras, StoredMessage};

/// A pushed event (serialisable, so that a networked hub can carry it to other nodes).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub enum Event {
    /// A stored message, live (`seq` orders it within its conversation).
    Message(Arc<StoredMessage>),
    /// A `transient: true` message: not stored, no seq, never acked.
    Transient(Arc<StoredMessage>),
    /// A receipt for the sender: `mid` was first acked by a recipient at `at`.
    Receipt { cid: String, mid: String, at: i64 },
    /// A read receipt for the sender: `by` read `cid` up to `mid`, at `at` (v3 only).
    Read {
        cid: String,
        mid: String,
        at: i64,
        by: String,
    },
    /// `from` changed (or, with `recall`, withdrew) its message `mid`, sent at
    /// `timestamp`, at `at`: its content is now `data` (v3 only).
    Patch {
        cid: String,
        mid: String,
        timestamp: i64,
        from: String,
        data: String,
        /// The new content's mentions and `bin`.
        #[serde(default)]
        extras: Option<Box<Extras>>,
        recall: bool,
        at: i64,
    },
    /// The recipient was added to (`joined`) or removed from (`left`) `cid` by `by`.
    Membership {
        cid: String,
        joined: bool,
        by: String,
    },
    /// `client` logged in from `device`: its sessions under the same tag on other
    /// devices close with 4111 (never written as a frame).
    Conflict { device: Device },
    /// `members` were added (`members-joined`) or removed (`members-left`).
    Members {
        cid: String,
        joined: bool,
        members: Vec<String>,
        by: String,
    },
}

impl Event {
    /// Whether v2 sessions lack this event (2.4.0 would misread it).
    pub fn is_v3_only(&self) -> bool {
        matches!(self, Event::Read { .. } | Event::Patch { .. })
    }

    /// The conversation and seq of a stored message.
    pub fn stored_position(&self) -> Option<(&str, i64)> {
        match self {
            Event::Message(m) => Some((&m.cid, m.seq)),
            _ => None,
        }
    }
}

/// An event on its way to many sessions, with its rendering kept after the first
/// session renders it (every session of one dialect sends the same text but for the
/// recipient's own id).
#[derive(Debug)]
pub struct Push {
    pub event: Event,
    /// Delivered to a transient conversation's participants: at most once, so no
    /// session repairs gaps in these.
    pub room: bool,
    rendered: OnceLock<Box<str>>,
    /// The rendering in a binary dialect (v3 protobuf), without the recipient's id.
    encoded: OnceLock<Option<Box<[u8]>>>,
}

impl Push {
    pub fn new(event: Event) -> Arc<Push> {
        Arc::new(Push {
            event,
            room: false,
            rendered: OnceLock::new(),
            encoded: OnceLock::new(),
        })
    }

    /// An event for a transient conversation's participants.
    pub fn in_room(event: Event) -> Arc<Push> {
        Arc::new(Push {
            event,
            room: true,
            rendered: OnceLock::new(),
            encoded: OnceLock::new(),
        })
    }

    /// The event rendered by `render`, computed once.
    pub fn rendered(&self, render: impl FnOnce(&Event) -> String) -> &str {
        self.rendered
            .get_or_init(|| render(&self.event).into_boxed_str())
    }

    /// The event encoded by `encode` (from the text `rendered` keeps), computed once;
    /// `None` when it has no such form.
    pub fn encoded(&self, encode: impl FnOnce() -> Option<Vec<u8>>) -> Option<&[u8]> {
        self.encoded
            .get_or_init(|| encode().map(Vec::into_boxed_slice))
            .as_deref()
    }
}
