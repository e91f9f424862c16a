//! What one node publishes to another's inbox.

use serde::{Deserialize, Serialize};

use crate::domain::event::Event;

/// Sent with `E = &Event`, read back with `E = Event`.
#[derive(Debug, Serialize, Deserialize)]
pub enum Envelope<E> {
    /// Events for the sessions of `clients` on the receiving node, but connection
    /// `except` (the sender's session, when it is there).
    Deliver {
        clients: Vec<String>,
        except: Option<u64>,
        events: Vec<E>,
    },
    /// Events for the receiving node's participants of transient conversation `cid`.
    Room {
        cid: String,
        except: Option<u64>,
        events: Vec<E>,
    },
    /// Close every session of `client` there with `code`.
    Kick { client: String, code: u16 },
}

impl Envelope<&Event> {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl Envelope<Event> {
    pub fn decode(bytes: &[u8]) -> Option<Envelope<Event>> {
        serde_json::from_slice(bytes).ok()
    }
}
