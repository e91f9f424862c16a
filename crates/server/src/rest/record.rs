//! Stored messages as LeanCloud's REST API shows them (the history record of
//! `docs/rest.md`): `conv-id` is the conversation id followed by `00000000`, `to` the
//! conversation id.

use serde_json::{json, Value};

use crate::domain::StoredMessage;

pub fn history_record(m: &StoredMessage) -> Value {
    let mut record = json!({
        "timestamp": m.timestamp,
        "conv-id": format!("{}00000000", m.cid),
        "data": m.data,
        "from": m.from,
        "msg-id": m.id,
        "is-conv": true,
        "is-room": false,
        "to": &*m.cid,
        "bin": false,
        "from-ip": null,
    });
    if let Some(at) = m.ack_at {
        record["ack-at"] = json!(at);
    }
    record
}
