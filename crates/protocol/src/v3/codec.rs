//! `GenericCommand` bytes to and from the v2 JSON shape of the same frame.
//!
//! The schema is `proto/messages2.proto`, compiled at build time and read here as a
//! descriptor, so that every field of it is decoded by name (prost-reflect), not
//! only the ones a handler knows.

use std::sync::LazyLock;

use prost::Message as _;
use prost_reflect::SerializeOptions;
use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor};
use serde_json::{Map, Value};

static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/messages2.bin"));

/// `push_server.messages2.GenericCommand`.
static GENERIC: LazyLock<MessageDescriptor> = LazyLock::new(|| {
    DescriptorPool::decode(DESCRIPTORS)
        .expect("the compiled schema")
        .get_message_by_name("push_server.messages2.GenericCommand")
        .expect("GenericCommand is in the schema")
});

/// `GenericCommand`'s own fields; every other v2 field belongs to the sub-message.
const ENVELOPE: &[&str] = &[
    "cmd",
    "op",
    "appId",
    "peerId",
    "i",
    "installationId",
    "priority",
    "service",
    "serverTs",
    "clientTs",
    "notificationType",
];

/// The field number of `GenericCommand.peerId`.
const PEER_ID_FIELD: u32 = 4;

/// `ConvCommand` fields that are `JsonObjectMessage`s in v3 and JSON values in v2.
const JSON_FIELDS: &[&str] = &["attr", "where", "results", "attrModified"];

/// A frame that is not a `GenericCommand`, or a v2 frame that has no v3 form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecError {
    pub reason: String,
    /// The frame's `i`, when the frame was readable that far.
    pub i: Option<i64>,
}

impl CodecError {
    fn new(reason: impl Into<String>) -> Self {
        CodecError {
            reason: reason.into(),
            i: None,
        }
    }
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for CodecError {}

/// Reads a `GenericCommand` as the v2 frame it stands for: the envelope's fields, the
/// fields of the command's own sub-message beside them (other sub-messages are
/// ignored), `JsonObjectMessage`s parsed, and the `logs` limit `l` as `limit`.
pub fn decode(bytes: &[u8]) -> Result<Map<String, Value>, CodecError> {
    let message = DynamicMessage::decode(GENERIC.clone(), bytes)
        .map_err(|e| CodecError::new(format!("not a GenericCommand: {e}")))?;
    let options = SerializeOptions::new().stringify_64_bit_integers(false);
    let Value::Object(fields) = message
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|e| CodecError::new(e.to_string()))?
    else {
        return Err(CodecError::new("not a message"));
    };
    let mut frame = Map::new();
    let mut nested = None;
    let own = fields
        .get("cmd")
        .and_then(Value::as_str)
        .map(|cmd| format!("{cmd}Message"));
    for (key, value) in fields {
        if Some(&key) == own.as_ref() {
            nested = Some(value);
        } else if !key.ends_with("Message") {
            frame.insert(key, value);
        }
    }
    if let Some(Value::Object(inner)) = nested {
        let i = frame.get("i").and_then(Value::as_i64);
        for (key, value) in inner {
            let value = if JSON_FIELDS.contains(&key.as_str()) {
                unwrap_json(&key, value).map_err(|e| CodecError { i, ..e })?
            } else {
                value
            };
            frame.entry(key).or_insert(value);
        }
    }
    if frame.get("cmd").and_then(Value::as_str) == Some("logs") {
        if let Some(l) = frame.remove("l") {
            frame.entry("limit").or_insert(l);
        }
    }
    Ok(frame)
}

/// Writes a v2 frame as a `GenericCommand`: v2's `-` in op names is v3's `_`, and
/// fields the schema does not have are left out.
pub fn encode(frame: &Value) -> Result<Vec<u8>, CodecError> {
    let Value::Object(fields) = frame else {
        return Err(CodecError::new("a frame is an object"));
    };
    let cmd = fields
        .get("cmd")
        .and_then(Value::as_str)
        .ok_or_else(|| CodecError::new("a frame has a cmd"))?;
    let mut envelope = Map::new();
    let mut inner = Map::new();
    for (key, value) in fields {
        if ENVELOPE.contains(&key.as_str()) {
            let value = match (key.as_str(), value) {
                ("op", Value::String(op)) => Value::String(op.replace('-', "_")),
                _ => value.clone(),
            };
            if let ("cmd" | "op", Value::String(name)) = (key.as_str(), &value) {
                check_enum(key, name)?;
            }
            envelope.insert(key.clone(), value);
        } else if cmd == "conv" && JSON_FIELDS.contains(&key.as_str()) {
            envelope_field(&mut inner, key, json_object(value));
        } else {
            envelope_field(&mut inner, key, value.clone());
        }
    }
    if !inner.is_empty() {
        envelope.insert(format!("{cmd}Message"), Value::Object(inner));
    }
    let options = DeserializeOptions::new().deny_unknown_fields(false);
    let message = DynamicMessage::deserialize_with_options(
        GENERIC.clone(),
        Value::Object(envelope),
        &options,
    )
    .map_err(|e| CodecError::new(format!("{cmd}: {e}")))?;
    Ok(message.encode_to_vec())
}

/// Refuses an op or command name the schema lacks (it would be dropped unseen).
fn check_enum(field: &str, name: &str) -> Result<(), CodecError> {
    let known = GENERIC
        .get_field_by_name(field)
        .and_then(|f| f.kind().as_enum().cloned())
        .is_some_and(|e| e.get_value_by_name(name).is_some());
    if known {
        Ok(())
    } else {
        Err(CodecError::new(format!("{field} {name:?} has no v3 form")))
    }
}

/// `GenericCommand` bytes with `peerId` added: a field may come in any order, so a
/// frame encoded once goes to each recipient with its own id appended.
pub fn with_peer(bytes: &[u8], peer: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + peer.len() + 6);
    out.extend_from_slice(bytes);
    prost::encoding::string::encode(PEER_ID_FIELD, &peer.to_owned(), &mut out);
    out
}

/// Keeps a field unless it is `null` (absent in v3).
fn envelope_field(map: &mut Map<String, Value>, key: &str, value: Value) {
    if !value.is_null() {
        map.insert(key.to_owned(), value);
    }
}

/// `{"data": "<json>"}` as the JSON value it holds.
fn unwrap_json(key: &str, value: Value) -> Result<Value, CodecError> {
    let text = value
        .get("data")
        .and_then(Value::as_str)
        .ok_or_else(|| CodecError::new(format!("{key}: a JsonObjectMessage has data")))?;
    serde_json::from_str(text).map_err(|e| CodecError::new(format!("{key}.data is not JSON: {e}")))
}

/// A JSON value as a `JsonObjectMessage`.
fn json_object(value: &Value) -> Value {
    serde_json::json!({ "data": value.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_v2_frame_survives_a_round_trip() {
        let started = json!({"cmd": "conv", "op": "members-joined", "i": 3, "peerId": "bob",
            "cid": "c1", "m": ["a", "b"], "initBy": "a", "serverTs": 1_700_000_000_000_i64});
        let back = decode(&encode(&started).unwrap()).unwrap();
        assert_eq!(back["op"], "members_joined");
        assert_eq!(back["m"], json!(["a", "b"]));
        assert_eq!(
            back["serverTs"],
            json!(1_700_000_000_000_i64),
            "int64 as a number"
        );
        assert_eq!(back["i"], 3);
    }

    #[test]
    fn a_peer_id_appended_reads_as_the_field() {
        let body = encode(&json!({"cmd": "direct", "cid": "c", "id": "m", "msg": "hi"})).unwrap();
        let frame = decode(&with_peer(&body, "bob")).unwrap();
        assert_eq!(frame["peerId"], "bob");
        assert_eq!(frame["msg"], "hi");
        let direct =
            encode(&json!({"cmd": "direct", "cid": "c", "id": "m", "msg": "hi", "peerId": "bob"}));
        assert_eq!(decode(&direct.unwrap()).unwrap(), frame);
    }

    #[test]
    fn json_objects_are_strings_in_v3() {
        let results = json!({"cmd": "conv", "op": "results", "results": [{"objectId": "c"}]});
        let bytes = encode(&results).unwrap();
        let raw = DynamicMessage::decode(GENERIC.clone(), bytes.as_slice()).unwrap();
        let v = raw
            .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
            .unwrap();
        assert_eq!(v["convMessage"]["results"]["data"], r#"[{"objectId":"c"}]"#);
        assert_eq!(
            decode(&bytes).unwrap()["results"],
            json!([{"objectId": "c"}])
        );
    }

    #[test]
    fn logs_limit_and_unknown_fields() {
        let logs = json!({"cmd": "logs", "i": 1, "cid": "c", "l": 10, "direction": "NEW"});
        let back = decode(&encode(&logs).unwrap()).unwrap();
        assert_eq!((back["limit"].clone(), back.get("l")), (json!(10), None));
        assert_eq!(back["direction"], "NEW");
        let ack =
            json!({"cmd": "ack", "i": 2, "code": 4401, "reason": "x", "detail": "no such field"});
        let back = decode(&encode(&ack).unwrap()).unwrap();
        assert_eq!(
            (back["code"].clone(), back.get("detail")),
            (json!(4401), None)
        );
        assert!(
            encode(&json!({"cmd": "nope"})).is_err(),
            "an unknown command"
        );
        assert!(
            encode(&json!({"cmd": "conv", "op": "nope"})).is_err(),
            "an unknown op"
        );
        assert!(encode(&json!({"op": "open"})).is_err(), "no cmd");
    }

    #[test]
    fn bad_bytes_are_errors() {
        assert!(decode(&[0x0a]).is_err(), "truncated");
        assert!(decode(&[0xff, 0xff, 0xff]).is_err(), "garbage");
        let bad_json =
            json!({"cmd": "conv", "op": "query", "convMessage": {"where": {"data": "{"}}});
        let bytes = DynamicMessage::deserialize(GENERIC.clone(), bad_json)
            .unwrap()
            .encode_to_vec();
        let e = decode(&bytes).unwrap_err();
        assert!(e.reason.contains("where.data is not JSON"));
        assert_eq!(e.i, None);
        let with_i =
            json!({"cmd": "conv", "op": "query", "i": 4, "convMessage": {"where": {"data": "{"}}});
        let bytes = DynamicMessage::deserialize(GENERIC.clone(), with_i)
            .unwrap()
            .encode_to_vec();
        assert_eq!(
            decode(&bytes).unwrap_err().i,
            Some(4),
            "the i of a readable frame"
        );
        assert_eq!(
            decode(&[]).unwrap(),
            Map::new(),
            "an empty frame decodes to nothing"
        );
    }
}
