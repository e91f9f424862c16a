//! The little the engine reads from inbound frames: enough to route them, to ack
//! messages and to follow the session state. The embedder gets the raw text.

use serde::Deserialize;
use serde_json::Value;

/// The routing fields of a frame; everything else is skipped while parsing.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    cmd: Option<Value>,
    op: Option<Value>,
    cid: Option<Value>,
    id: Option<Value>,
    transient: Option<Value>,
    peer_id: Option<Value>,
    i: Option<Value>,
}

/// What one inbound text frame means to the engine.
#[derive(Debug, PartialEq)]
pub(crate) enum Inbound {
    /// Not JSON: reported as an error, never delivered.
    Invalid,
    /// JSON without a truthy `cmd` (the `{}` heartbeat echo, arrays, numbers): ignored,
    /// as 2.4.0 ignores them.
    Silent,
    /// A frame for the embedder; `ack` is the ack frame to send first, if any.
    Frame { kind: Kind, ack: Option<AckOf> },
}

/// Frames the engine itself acts on.
#[derive(Debug, PartialEq)]
pub(crate) enum Kind {
    /// `session opened`, with the effective peerId when the server sent one.
    SessionOpened {
        peer_id: Option<String>,
    },
    /// `session closed`; `reply` when it answers one of our requests (has `i`).
    SessionClosed {
        reply: bool,
    },
    Other,
}

/// The message an ack is due for.
#[derive(Debug, PartialEq)]
pub(crate) struct AckOf {
    cid: Option<Value>,
    mid: Option<Value>,
}

/// JavaScript truthiness of a JSON value.
fn truthy(v: &Option<Value>) -> bool {
    leanrt_protocol::command::truthy(v.as_ref())
}

fn is_str(v: &Option<Value>, s: &str) -> bool {
    matches!(v, Some(Value::String(x)) if x == s)
}

/// Classifies one inbound text frame.
pub(crate) fn classify(text: &str) -> Inbound {
    if !text.trim_start().starts_with('{') {
        return match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => Inbound::Silent,
            Err(_) => Inbound::Invalid,
        };
    }
    // The struct rejects duplicate keys, which JSON.parse accepts (last wins);
    // such frames take the slower path through a map.
    let head = match serde_json::from_str::<Head>(text) {
        Ok(head) => head,
        Err(_) => match serde_json::from_str::<Value>(text).map(Head::deserialize) {
            Ok(Ok(head)) => head,
            _ => return Inbound::Invalid,
        },
    };
    if !truthy(&head.cmd) {
        return Inbound::Silent;
    }
    let kind = if is_str(&head.cmd, "session") && is_str(&head.op, "opened") {
        let peer_id = match head.peer_id {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        Kind::SessionOpened { peer_id }
    } else if is_str(&head.cmd, "session") && is_str(&head.op, "closed") {
        Kind::SessionClosed {
            reply: head.i.is_some(),
        }
    } else {
        Kind::Other
    };
    let ack = (is_str(&head.cmd, "direct") && !truthy(&head.transient)).then_some(AckOf {
        cid: head.cid,
        mid: head.id,
    });
    Inbound::Frame { kind, ack }
}

impl AckOf {
    /// The `ack` frame for this message, as 2.4.0 writes it: `cmd`, `cid`, `mid`,
    /// `peerId`; absent values are left out like `JSON.stringify` does.
    pub(crate) fn frame(&self, peer_id: Option<&str>) -> String {
        let mut out = String::from(r#"{"cmd":"ack""#);
        let mut field = |name: &str, v: Option<&Value>| {
            if let Some(v) = v {
                out.push_str(&format!(r#","{name}":{v}"#));
            }
        };
        field("cid", self.cid.as_ref());
        field("mid", self.mid.as_ref());
        let peer = peer_id.map(Value::from);
        field("peerId", peer.as_ref());
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_frames_are_acked_unless_transient() {
        let Inbound::Frame { ack: Some(ack), .. } =
            classify(r#"{"cmd":"direct","cid":"c1","id":"m1","msg":"{\"a\":1}"}"#)
        else {
            panic!("expected an ack");
        };
        assert_eq!(
            ack.frame(Some("bob")),
            r#"{"cmd":"ack","cid":"c1","mid":"m1","peerId":"bob"}"#
        );
        assert_eq!(ack.frame(None), r#"{"cmd":"ack","cid":"c1","mid":"m1"}"#);
        assert!(matches!(
            classify(r#"{"cmd":"direct","cid":"c1","id":"m1","transient":true}"#),
            Inbound::Frame { ack: None, .. }
        ));
    }

    #[test]
    fn session_frames_and_noise() {
        assert_eq!(
            classify(r#"{"cmd":"session","op":"opened","i":2016,"peerId":"p"}"#),
            Inbound::Frame {
                kind: Kind::SessionOpened {
                    peer_id: Some("p".into())
                },
                ack: None
            }
        );
        assert_eq!(
            classify(r#"{"cmd":"session","op":"closed","code":4111}"#),
            Inbound::Frame {
                kind: Kind::SessionClosed { reply: false },
                ack: None
            }
        );
        assert_eq!(
            classify(r#"{"peerId":"a","cmd":"session","op":"opened","peerId":"b"}"#),
            Inbound::Frame {
                kind: Kind::SessionOpened {
                    peer_id: Some("b".into())
                },
                ack: None
            }
        );
        assert_eq!(classify("{}"), Inbound::Silent);
        assert_eq!(classify(r#"{"cmd":""}"#), Inbound::Silent);
        assert_eq!(classify("{hi}"), Inbound::Invalid);
        assert_eq!(classify("[1]"), Inbound::Silent);
        assert_eq!(classify(" 123 "), Inbound::Silent);
        assert_eq!(classify("hello"), Inbound::Invalid);
        assert_eq!(classify(r#"{"cmd":"x","i":"#), Inbound::Invalid);
    }
}
