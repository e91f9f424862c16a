//! The v2 JSON dialect's outbound frames: events, replies and records.

use serde_json::{json, Map, Value};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::domain::event::Event;
use crate::domain::{Conversation, StoredMessage};
use crate::service::{Failure, Unread};
use crate::time::iso;

/// The start of every frame to `client`: `{"peerId":"…"`.
pub fn peer_prefix(client: &str) -> Box<str> {
    format!("{{\"peerId\":{}", Value::from(client)).into_boxed_str()
}

/// `body` (a JSON object's text) with `prefix` (from [`peer_prefix`]) in front.
pub fn addressed(prefix: Option<&str>, body: &str) -> Utf8Bytes {
    match prefix {
        None => Utf8Bytes::from(body.to_owned()),
        Some(prefix) => {
            let rest = body.strip_prefix('{').unwrap_or(body);
            let mut text = String::with_capacity(prefix.len() + rest.len() + 1);
            text.push_str(prefix);
            if !rest.starts_with('}') {
                text.push(',');
            }
            text.push_str(rest);
            Utf8Bytes::from(text)
        }
    }
}

/// `s` as a JSON string, appended to `out`.
fn push_json_str(out: &mut String, s: &str) {
    use std::fmt::Write;
    let _ = write!(out, "{}", Value::from(s));
}

/// A `direct` frame of a message; `extra` adds `offline` or `transient`. Written
/// straight into one string: every message of a login push goes through here.
pub fn direct(m: &StoredMessage, extra: Option<&str>) -> String {
    let mut out = String::with_capacity(96 + m.cid.len() + m.from.len() + m.data.len());
    out.push_str(r#"{"cmd":"direct","cid":"#);
    push_json_str(&mut out, &m.cid);
    out.push_str(r#","id":"#);
    push_json_str(&mut out, &m.id);
    out.push_str(r#","fromPeerId":"#);
    push_json_str(&mut out, &m.from);
    out.push_str(&format!(r#","timestamp":{},"msg":"#, m.timestamp));
    push_json_str(&mut out, &m.data);
    if let Some(key) = extra {
        out.push_str(&format!(r#","{key}":true"#));
    }
    out.push('}');
    out
}

/// An event as pushed to a v2 session.
pub fn event(e: &Event) -> String {
    match e {
        Event::Message(m) => direct(m, None),
        Event::Transient(m) => direct(m, Some("transient")),
        Event::Receipt { cid, mid, at } => {
            json!({"cmd": "rcp", "cid": cid, "id": mid, "t": at}).to_string()
        }
        Event::Patch {
            cid,
            mid,
            timestamp,
            from,
            data,
            recall,
            at,
        } => {
            let patch = json!({"cid": cid, "mid": mid, "timestamp": timestamp, "from": from,
                "data": data, "recall": recall, "patchTimestamp": at});
            json!({"cmd": "patch", "op": "modify", "patches": [patch], "lastPatchTime": at})
                .to_string()
        }
        Event::Read { cid, mid, at, by } => {
            json!({"cmd": "rcp", "cid": cid, "id": mid, "t": at, "read": true, "from": by})
                .to_string()
        }
        Event::Membership { cid, joined, by } => {
            let op = if *joined { "joined" } else { "left" };
            json!({"cmd": "conv", "op": op, "cid": cid, "initBy": by}).to_string()
        }
        Event::Members {
            cid,
            joined,
            members,
            by,
        } => {
            let op = if *joined {
                "members-joined"
            } else {
                "members-left"
            };
            json!({"cmd": "conv", "op": op, "cid": cid, "m": members, "initBy": by}).to_string()
        }
    }
}

/// An error frame (§6.9 form 1), or for `direct` an error ack (form 2).
pub fn failure(failure: &Failure, ack_form: bool) -> Value {
    let cmd = if ack_form { "ack" } else { "error" };
    let mut frame = json!({
        "cmd": cmd, "code": failure.code.code(), "reason": failure.code.reason(),
    });
    if let Some(detail) = &failure.detail {
        frame["detail"] = Value::String(detail.clone());
    }
    frame
}

/// A message as a `logs` item (§6.6).
pub fn log_item(m: &StoredMessage) -> Value {
    let mut item = json!({
        "from": m.from, "data": m.data, "timestamp": m.timestamp, "msgId": m.id,
    });
    if let Some(at) = m.ack_at {
        item["ackAt"] = json!(at);
    }
    item
}

/// The record as sent in `conv results` (§6.2): `lm` as a Date object, the other
/// dates as ISO strings, flags only when set. `compact` omits `m` and `mu`.
pub fn conversation(c: &Conversation, compact: bool, last: Option<&StoredMessage>) -> Value {
    let mut out: Map<String, Value> = c.extra.clone();
    out.insert("objectId".into(), json!(c.id));
    out.insert("c".into(), json!(c.creator));
    if !compact && !c.transient {
        out.insert("m".into(), json!(c.members));
    }
    if let (false, Some(mu)) = (compact, &c.muted) {
        out.insert("mu".into(), json!(mu));
    }
    if let Some(name) = &c.name {
        out.insert("name".into(), json!(name));
    }
    if let Some(attr) = &c.attr {
        out.insert("attr".into(), attr.clone());
    }
    for (key, set) in [("tr", c.transient), ("sys", c.system), ("unique", c.unique)] {
        if set {
            out.insert(key.into(), json!(true));
        }
    }
    if let Some(lm) = c.last_message_at {
        out.insert("lm".into(), json!({"__type": "Date", "iso": iso(lm)}));
    }
    out.insert("createdAt".into(), json!(iso(c.created_at)));
    out.insert("updatedAt".into(), json!(iso(c.updated_at)));
    if let Some(msg) = last {
        out.insert("msg".into(), json!(msg.data));
        out.insert("msg_from".into(), json!(msg.from));
        out.insert("msg_mid".into(), json!(msg.id));
        out.insert("msg_timestamp".into(), json!(msg.timestamp));
    }
    Value::Object(out)
}

/// The unread counts of a v3 `…2.3` session at login (`unread`), newest first.
pub fn unread(counts: &[Unread], now: i64) -> Value {
    let convs: Vec<Value> = counts
        .iter()
        .map(|u| {
            json!({"cid": &*u.cid, "unread": u.count, "mid": u.last.id,
                "timestamp": u.last.timestamp, "from": u.last.from, "data": u.last.data})
        })
        .collect();
    json!({"cmd": "unread", "convs": convs, "notifTime": now})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_frames_are_json() {
        let m = StoredMessage {
            cid: std::sync::Arc::from("c\"1"),
            seq: 1,
            id: "i".into(),
            from: "a\nb".into(),
            data: "{\"x\":\"\u{1}\"}".into(),
            timestamp: 5,
            ack_at: None,
            receipt: false,
        };
        let frame: Value = serde_json::from_str(&direct(&m, Some("offline"))).expect("json");
        assert_eq!(
            frame,
            json!({"cmd":"direct","cid":"c\"1","id":"i","fromPeerId":"a\nb","timestamp":5,"msg":m.data,"offline":true})
        );
    }

    #[test]
    fn addressed_puts_peer_id_first() {
        let p = peer_prefix("a\"b");
        assert_eq!(
            addressed(Some(&p), r#"{"cmd":"x"}"#).as_str(),
            r#"{"peerId":"a\"b","cmd":"x"}"#
        );
        assert_eq!(
            addressed(Some(&peer_prefix("a")), "{}").as_str(),
            r#"{"peerId":"a"}"#
        );
        assert_eq!(addressed(None, "{}").as_str(), "{}");
    }
}
