//! LeanCloud's record shapes, decoded: `_Conversation` rows (console export, scan and
//! query results) and message history records (any v1.1 or v1.2 history endpoint).

use serde_json::{Map, Value};

use crate::domain::rules::unique_key;
use crate::domain::Conversation;
use crate::store::ImportedMessage;
use crate::time::parse_iso;

/// What one JSON object from an input is.
pub enum Record {
    Conversation(Conversation),
    /// A history record and the conversation it belongs to (`None`: not mappable).
    Message(Option<String>, ImportedMessage),
}

/// Query-result and last-message keys of a row, not part of the record (migration.md
/// §1.3).
fn dropped(key: &str) -> bool {
    key.starts_with("msg")
        || key.starts_with("joined")
        || matches!(
            key,
            "temp"
                | "ttl"
                | "conv_type"
                | "bin"
                | "patch_timestamp"
                | "mention_all"
                | "mention_pids"
                | "muted"
        )
}

/// Reads an object as a conversation row (it has `objectId`) or a history record (it
/// has `msg-id`); `max_members` members of a row are kept.
pub fn classify(obj: Map<String, Value>, max_members: usize) -> Result<Record, String> {
    if obj.contains_key("msg-id") {
        return message(obj).map(|(cid, m)| Record::Message(cid, m));
    }
    if obj.contains_key("msgId") && obj.contains_key("conv") {
        return Err("a _SysMessage row: system conversation messages are not imported".into());
    }
    if obj.contains_key("cid") && obj.contains_key("clientId") && !obj.contains_key("m") {
        return Err("a _ConversationMemberInfo row: member roles are not imported".into());
    }
    if obj.contains_key("objectId") {
        if !["m", "c", "tr", "sys", "unique"]
            .iter()
            .any(|k| obj.contains_key(*k))
        {
            return Err(
                "not a _Conversation row: it has none of m, c, tr, sys, unique \
                        (a row of another class? leave its file out)"
                    .into(),
            );
        }
        return conversation(obj, max_members).map(Record::Conversation);
    }
    Err("neither a _Conversation row (no \"objectId\") nor a history record (no \"msg-id\")".into())
}

/// A time as LeanCloud writes one: a `Date` object, an ISO string, or ms (a number or
/// a string of digits).
pub fn time(v: &Value) -> Option<i64> {
    match v {
        Value::Object(o) if o.get("__type").and_then(Value::as_str) == Some("Date") => {
            o.get("iso").and_then(Value::as_str).and_then(parse_iso)
        }
        Value::String(s) => s.trim().parse::<i64>().ok().or_else(|| parse_iso(s)),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn strings(v: Option<Value>, key: &str) -> Result<Option<Vec<String>>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                _ => Err(format!("\"{key}\" must be an array of strings")),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(format!("\"{key}\" must be an array of strings")),
    }
}

fn flag(v: Option<Value>) -> bool {
    matches!(v, Some(Value::Bool(true)))
}

fn optional_time(obj: &mut Map<String, Value>, key: &str) -> Result<Option<i64>, String> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => time(&v)
            .map(Some)
            .ok_or_else(|| format!("\"{key}\" is not a date: {v}")),
    }
}

/// A `_Conversation` row. `objectId` stays the id; `createdAt`, `updatedAt` and `lm`
/// become ms; `ACL`, `uniqueId` and custom keys are kept verbatim (with any `__type`
/// encoding they carry, as LeanCloud served them to clients).
pub fn conversation(
    mut obj: Map<String, Value>,
    max_members: usize,
) -> Result<Conversation, String> {
    let id = match obj.remove("objectId") {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => return Err("\"objectId\" must be a non-empty string".into()),
    };
    let transient = flag(obj.remove("tr"));
    let mut seen = std::collections::HashSet::new();
    let mut members = strings(obj.remove("m"), "m")?.unwrap_or_default();
    members.retain(|m| seen.insert(m.clone()));
    members.truncate(max_members);
    if transient {
        members.clear();
    }
    let unique = flag(obj.remove("unique"));
    let created_at = optional_time(&mut obj, "createdAt")?;
    let updated_at = optional_time(&mut obj, "updatedAt")?;
    let last_message_at = optional_time(&mut obj, "lm")?;
    let creator = match obj.remove("c") {
        Some(Value::String(s)) => s,
        None | Some(Value::Null) => String::new(),
        Some(_) => return Err("\"c\" must be a string".into()),
    };
    let name = match obj.remove("name") {
        Some(Value::String(s)) => Some(s),
        None | Some(Value::Null) => None,
        Some(_) => return Err("\"name\" must be a string".into()),
    };
    let attr = match obj.remove("attr") {
        Some(v @ Value::Object(_)) => Some(v),
        None | Some(Value::Null) => None,
        Some(_) => return Err("\"attr\" must be an object".into()),
    };
    let muted = strings(obj.remove("mu"), "mu")?;
    let system = flag(obj.remove("sys"));
    obj.retain(|k, _| !dropped(k));
    let created_at = created_at.or(updated_at).or(last_message_at).unwrap_or(0);
    Ok(Conversation {
        unique_key: unique.then(|| unique_key(&members)),
        id,
        creator,
        members,
        muted,
        name,
        attr,
        transient,
        system,
        unique,
        last_message_at,
        created_at,
        updated_at: updated_at.unwrap_or(created_at),
        extra: obj,
    })
}

/// The conversation of a history record (migration.md §6): `to` for a v2 message
/// (`is-conv`); else the objectId inside a `conv-id` ending in `00000000`; else, when
/// the record does not say, `conv-id` itself. v1 peer and group messages map to none.
pub fn target(obj: &Map<String, Value>) -> Option<String> {
    let text = |k: &str| obj.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    if obj.get("is-conv") == Some(&Value::Bool(true)) {
        if let Some(to) = text("to") {
            return Some(to.to_owned());
        }
    }
    let conv_id = text("conv-id")?;
    if let Some(prefix) = conv_id.strip_suffix("00000000").filter(|p| p.len() == 24) {
        return Some(prefix.to_owned());
    }
    (!obj.contains_key("is-conv")).then(|| conv_id.to_owned())
}

/// A history record: its conversation and the message. `data` that is a string is
/// kept byte for byte; other JSON is serialized. The fields that are not columns
/// (`bin`, `from-ip`, `is-room`, unknown keys) are kept as `meta`.
pub fn message(mut obj: Map<String, Value>) -> Result<(Option<String>, ImportedMessage), String> {
    let cid = target(&obj);
    let id = match obj.remove("msg-id") {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => return Err("\"msg-id\" must be a non-empty string".into()),
    };
    let timestamp = obj
        .remove("timestamp")
        .as_ref()
        .and_then(time)
        .ok_or("\"timestamp\" must be a time in ms")?;
    let from = match obj.remove("from") {
        Some(Value::String(s)) => s,
        _ => return Err("\"from\" must be a string".into()),
    };
    let data = match obj.remove("data") {
        Some(Value::String(s)) => s,
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    };
    let ack_at = optional_time(&mut obj, "ack-at")?;
    for key in ["conv-id", "to", "is-conv"] {
        obj.remove(key);
    }
    let meta = (!obj.is_empty()).then(|| Value::Object(obj).to_string());
    Ok((
        cid,
        ImportedMessage {
            id,
            from,
            data,
            timestamp,
            ack_at,
            meta,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(o) => o,
            _ => unreachable!("an object"),
        }
    }

    #[test]
    fn a_console_row_keeps_its_id_and_custom_keys() {
        let row = json!({"objectId":"5cc6abe117b54d7448151efc","c":"alice","m":["alice","bob","alice"],
            "name":"n","attr":{"k":1},"unique":true,"uniqueId":"6c7b","tr":false,
            "lm":{"__type":"Date","iso":"2020-11-04T03:29:17.441Z"},
            "createdAt":"2019-04-29T07:46:41.687Z","updatedAt":{"__type":"Date","iso":"2020-11-04T03:29:17.441Z"},
            "ACL":{"*":{"read":true}},"avatar":{"__type":"File","id":"f1"},
            "msg":"last","msg_mid":"x","joined":true,"temp":false});
        let c = conversation(obj(row), 500).expect("row");
        assert_eq!(c.id, "5cc6abe117b54d7448151efc");
        assert_eq!(c.members, ["alice", "bob"]);
        assert_eq!(c.created_at, 1_556_524_001_687);
        assert_eq!(c.last_message_at, Some(1_604_460_557_441));
        assert_eq!(c.updated_at, 1_604_460_557_441);
        assert_eq!(c.unique_key.as_deref(), Some(r#"["alice","bob"]"#));
        let keys: Vec<&str> = c.extra.keys().map(String::as_str).collect();
        assert_eq!(keys, ["ACL", "avatar", "uniqueId"]);
    }

    #[test]
    fn members_are_capped_and_rooms_have_none() {
        let m: Vec<String> = (0..600).map(|i| format!("u{i}")).collect();
        let c = conversation(obj(json!({"objectId":"a","m":m})), 500).expect("row");
        assert_eq!(c.members.len(), 500);
        let c = conversation(obj(json!({"objectId":"a","m":["x"],"tr":true})), 500).expect("row");
        assert!(c.members.is_empty() && c.transient);
        assert!(conversation(obj(json!({"objectId":"a","m":"x"})), 500).is_err());
        let post =
            obj(json!({"objectId":"a","title":"a Post row","createdAt":"2020-01-01T00:00:00Z"}));
        let e = classify(post, 500).err().expect("another class");
        assert!(e.contains("not a _Conversation row"), "{e}");
        assert!(conversation(obj(json!({"objectId":"a","lm":"soon"})), 500).is_err());
    }

    #[test]
    fn records_map_to_their_conversation() {
        let cid = |v: Value| message(obj(v)).expect("record").0;
        let base = json!({"msg-id":"m","timestamp":1,"from":"a","data":"x"});
        let with = |extra: Value| {
            let mut o = obj(base.clone());
            o.extend(obj(extra));
            Value::Object(o)
        };
        let oid = "57ac2ac85bbb500062b3723c";
        assert_eq!(
            cid(with(
                json!({"is-conv":true,"to":oid,"conv-id":format!("{oid}00000000")})
            ))
            .as_deref(),
            Some(oid)
        );
        assert_eq!(
            cid(with(
                json!({"is-conv":false,"conv-id":format!("{oid}00000000")})
            ))
            .as_deref(),
            Some(oid)
        );
        assert_eq!(cid(with(json!({"conv-id":oid}))).as_deref(), Some(oid));
        assert_eq!(
            cid(with(
                json!({"is-conv":false,"is-room":false,"conv-id":"219946ef32e40c515d33ae6975a5c593","to":"bob"})
            )),
            None
        );
    }

    #[test]
    fn records_keep_data_and_their_other_fields() {
        let (_, m) = message(obj(
            json!({"msg-id":"m","timestamp":"1408008498571","from":"a",
            "data":"{\"_lctype\": -1 }","bin":false,"from-ip":null,"ack-at":1_408_008_498_600_i64,
            "is-conv":true,"to":"c","conv-id":"c00000000"}),
        ))
        .expect("record");
        assert_eq!(m.data, "{\"_lctype\": -1 }");
        assert_eq!(
            (m.timestamp, m.ack_at),
            (1_408_008_498_571, Some(1_408_008_498_600))
        );
        assert_eq!(m.meta.as_deref(), Some(r#"{"bin":false,"from-ip":null}"#));
        let (_, m) = message(obj(
            json!({"msg-id":"m","timestamp":1,"from":"a","data":{"_lctype":-1,"_lctext":"hi"}}),
        ))
        .expect("record");
        // Object data is serialized with its keys in order (JSON object order is not kept).
        assert_eq!(m.data, r#"{"_lctext":"hi","_lctype":-1}"#);
        assert_eq!(m.meta, None);
        assert!(message(obj(json!({"msg-id":"m","from":"a"}))).is_err());
        assert!(message(obj(json!({"msg-id":"m","timestamp":1}))).is_err());
    }
}
