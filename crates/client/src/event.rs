//! What the engine reports to its embedder.

use std::future::Future;

/// One observation of the engine, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A connection attempt starts (router lookup, then the socket).
    Connecting,
    /// A socket opened: the embedder must now send `session open`
    /// ([`crate::Command::OpenSession`]).
    SocketOpen,
    /// An inbound frame with a truthy `cmd`, as the raw JSON text received.
    Frame(String),
    /// Follows the frames of a read that carried messages to ack: once the embedder
    /// has dispatched them, it calls [`crate::Handle::release_acks`] with this
    /// number, and their acks go out together. Messages never dispatched are never acked, so
    /// the server delivers them again.
    Acks(u64),
    /// The socket closed (by the server, the network, the guard or `close()`).
    Close { code: u16, reason: String },
    /// The connection was lost and the engine starts reconnecting. Once per outage.
    Reuse,
    /// Something failed that is not the user's request: router, connect, bad frame.
    Error(String),
    /// The engine waits before connecting again. `keep_alive` is false while no
    /// session has ever opened: an embedder may then let its process exit meanwhile.
    Backoff { keep_alive: bool },
    /// A frame sent while offline was dropped because too many were already held.
    Dropped(String),
    /// Foreign transport: the embedder must open a JS WebSocket to `url`.
    ForeignConnect { socket: u64, url: String },
    /// Foreign transport: the embedder must send `text` on socket `socket`.
    ForeignSend { socket: u64, text: String },
    /// Foreign transport: the embedder must close socket `socket`.
    ForeignClose { socket: u64 },
}

impl Event {
    /// The event as one JSON value: a frame is its own text (it always has `cmd`);
    /// anything else is an object whose `$` names the event.
    pub fn to_json(&self) -> String {
        let q = |s: &str| serde_json::Value::from(s).to_string();
        match self {
            Event::Frame(text) => text.clone(),
            Event::Connecting => r#"{"$":"connecting"}"#.to_owned(),
            Event::SocketOpen => r#"{"$":"socket-open"}"#.to_owned(),
            Event::Acks(upto) => format!(r#"{{"$":"acks","upto":{upto}}}"#),
            Event::Close { code, reason } => {
                format!(r#"{{"$":"close","code":{code},"reason":{}}}"#, q(reason))
            }
            Event::Reuse => r#"{"$":"reuse"}"#.to_owned(),
            Event::Error(message) => format!(r#"{{"$":"error","message":{}}}"#, q(message)),
            Event::Backoff { keep_alive } => {
                format!(r#"{{"$":"backoff","keepAlive":{keep_alive}}}"#)
            }
            Event::Dropped(frame) => format!(r#"{{"$":"dropped","frame":{}}}"#, q(frame)),
            Event::ForeignConnect { socket, url } => {
                format!(r#"{{"$":"ws-connect","socket":{socket},"url":{}}}"#, q(url))
            }
            Event::ForeignSend { socket, text } => {
                format!(r#"{{"$":"ws-send","socket":{socket},"text":{}}}"#, q(text))
            }
            Event::ForeignClose { socket } => format!(r#"{{"$":"ws-close","socket":{socket}}}"#),
        }
    }
}

/// Where the engine delivers events. `push` may wait for space (backpressure);
/// the engine stops reading the socket meanwhile.
pub trait EventSink: Send + Sync + 'static {
    fn push(&self, event: Event) -> impl Future<Output = ()> + Send;
}

/// A channel is a sink: handy for Rust programs and tests.
impl EventSink for tokio::sync::mpsc::UnboundedSender<Event> {
    async fn push(&self, event: Event) {
        // A dropped receiver means nobody listens any more; nothing to report to.
        let _ = self.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_render_as_json() {
        let close = Event::Close {
            code: 1000,
            reason: "bye \"x\"".into(),
        };
        let v: serde_json::Value = serde_json::from_str(&close.to_json()).unwrap();
        assert_eq!(v["$"], "close");
        assert_eq!(v["reason"], "bye \"x\"");
        let send = Event::ForeignSend {
            socket: 3,
            text: "{\"cmd\":1}".into(),
        };
        let v: serde_json::Value = serde_json::from_str(&send.to_json()).unwrap();
        assert_eq!(v["text"], "{\"cmd\":1}");
        assert_eq!(
            Event::Frame("{\"cmd\":\"x\"}".into()).to_json(),
            "{\"cmd\":\"x\"}"
        );
    }
}
