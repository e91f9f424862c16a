//! The v2 JSON dialect's outbound frames: events, replies and records.

use leanrt_protocol::ErrorCode;
use serde_json::{json, Map, Value};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::domain::event::Event;
use crate::domain::temporary;
use crate::domain::{Conversation, Extras, StoredMessage};
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
    if let Some(extras) = &m.extras {
        let fields = Value::Object(extras_fields(extras, &m.data, Binary::Bytes));
        let text = fields.to_string();
        if text.len() > 2 {
            out.push(',');
            out.push_str(&text[1..text.len() - 1]);
        }
    }
    if let Some(key) = extra {
        out.push_str(&format!(r#","{key}":true"#));
    }
    out.push('}');
    out
}

/// How a frame marks a binary content (kept as base64 text for v2 readers).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Binary {
    /// `bin: true` beside the base64 `data` (history items).
    Flag,
    /// The base64 again under `binaryMsg`, which a v3 frame carries as bytes.
    Bytes,
}

/// A message's extras as frame fields: `mentionPids`, `mentionAll`, `patchTimestamp`,
/// and a binary content (`data`, base64) marked as `binary` says.
fn extras_fields(e: &Extras, data: &str, binary: Binary) -> Map<String, Value> {
    let mut out = Map::new();
    if !e.mention_pids.is_empty() {
        out.insert("mentionPids".into(), json!(e.mention_pids));
    }
    if e.mention_all {
        out.insert("mentionAll".into(), json!(true));
    }
    if let Some(at) = e.patch_timestamp {
        out.insert("patchTimestamp".into(), json!(at));
    }
    match (e.bin, binary) {
        (false, _) => {}
        (true, Binary::Flag) => {
            out.insert("bin".into(), json!(true));
        }
        (true, Binary::Bytes) => {
            out.insert("binaryMsg".into(), json!(data));
        }
    }
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
            extras,
            recall,
            at,
        } => {
            let mut patch = json!({"cid": cid, "mid": mid, "timestamp": timestamp, "from": from,
                "data": data, "recall": recall, "patchTimestamp": at});
            if let (Some(e), Value::Object(fields)) = (extras, &mut patch) {
                fields.extend(extras_fields(e, data, Binary::Bytes));
            }
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
        // Sessions act on it instead (they close); were one written, it would say so.
        Event::Conflict { .. } => super::session_closed(ErrorCode::SessionConflict).to_string(),
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
    if let (Some(e), Value::Object(fields)) = (&m.extras, &mut item) {
        fields.extend(extras_fields(e, &m.data, Binary::Flag));
    }
    item
}

/// The record as sent in `conv results` (§6.2): `lm` as a Date object, the other
/// dates as ISO strings, flags only when set. `compact` omits `m` and `mu`. A
/// temporary conversation has `temp: true` and `ttl`, the seconds it has left at
/// `now`, in place of its reserved expiry key.
pub fn conversation(
    c: &Conversation,
    compact: bool,
    last: Option<&StoredMessage>,
    now: i64,
) -> Value {
    let mut out: Map<String, Value> = c.extra.clone();
    out.remove(temporary::EXPIRES_AT);
    if let Some(ttl) = c.remaining_secs(now) {
        out.insert("temp".into(), json!(true));
        out.insert("ttl".into(), json!(ttl));
    }
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
            let mut tuple = json!({"cid": &*u.cid, "unread": u.count, "mid": u.last.id,
                "timestamp": u.last.timestamp, "from": u.last.from, "data": u.last.data});
            if let (Some(e), Value::Object(fields)) = (&u.last.extras, &mut tuple) {
                // Mentions have no place in the tuple; the encoder leaves them out.
                fields.extend(extras_fields(e, &u.last.data, Binary::Bytes));
            }
            if u.mentioned {
                tuple["mentioned"] = json!(true);
            }
            tuple
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
            extras: None,
        };
        let frame: Value = serde_json::from_str(&direct(&m, Some("offline"))).expect("json");
        assert_eq!(
            frame,
            json!({"cmd":"direct","cid":"c\"1","id":"i","fromPeerId":"a\nb","timestamp":5,"msg":m.data,"offline":true})
        );
    }

    #[test]
    fn extras_render_for_pushes_and_history() {
        let extras = Extras {
            mention_pids: vec!["b".into()],
            mention_all: false,
            bin: true,
            patch_timestamp: Some(9),
        };
        let m = StoredMessage {
            cid: std::sync::Arc::from("c"),
            seq: 1,
            id: "i".into(),
            from: "a".into(),
            data: "AAE=".into(),
            timestamp: 5,
            ack_at: None,
            receipt: false,
            extras: Some(Box::new(extras)),
        };
        let frame: Value = serde_json::from_str(&direct(&m, None)).expect("json");
        assert_eq!(
            (&frame["msg"], &frame["binaryMsg"], &frame["mentionPids"]),
            (&json!("AAE="), &json!("AAE="), &json!(["b"]))
        );
        assert_eq!(
            (frame.get("mentionAll"), &frame["patchTimestamp"]),
            (None, &json!(9))
        );
        let item = log_item(&m);
        assert_eq!(
            (&item["bin"], &item["data"]),
            (&json!(true), &json!("AAE="))
        );
        assert_eq!(item.get("binaryMsg"), None);
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
