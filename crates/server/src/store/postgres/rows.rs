//! Rows of the PostgreSQL tables and the Rust values they hold.

use std::sync::Arc;

use serde_json::{Map, Value};
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::{GenericClient, Row};

use super::errors::storable;
use crate::domain::{Conversation, Extras, Refusal, StoredMessage};
use crate::store::ImportedMessage;

/// The columns [`conv_from_row`] reads.
pub const CONV_COLUMNS: &str = r#"num, "objectId", c, m, mu, name, attr, tr, sys, "unique",
    unique_key, lm, "createdAt", "updatedAt", extra, last_seq"#;

/// A conversation row: its number, the record and its last seq.
pub struct ConvRow {
    pub num: i64,
    pub conv: Conversation,
    pub last_seq: i64,
}

fn json<T: serde::de::DeserializeOwned>(v: Option<Value>) -> Option<T> {
    v.and_then(|v| serde_json::from_value(v).ok())
}

pub fn conv_from_row(r: &Row) -> ConvRow {
    ConvRow {
        num: r.get(0),
        conv: Conversation {
            id: r.get(1),
            creator: r.get(2),
            members: json(r.get(3)).unwrap_or_default(),
            muted: json(r.get(4)),
            name: r.get(5),
            attr: r.get(6),
            transient: r.get(7),
            system: r.get(8),
            unique: r.get(9),
            unique_key: r.get(10),
            last_message_at: r.get(11),
            created_at: r.get(12),
            updated_at: r.get(13),
            extra: json::<Map<String, Value>>(r.get(14)).unwrap_or_default(),
        },
        last_seq: r.get(15),
    }
}

/// The record's values for `c = $2 … extra = $14`, after `$1`.
pub struct Record {
    members: Json<Vec<String>>,
    muted: Option<Json<Vec<String>>>,
    extra: Json<Map<String, Value>>,
    conv: Conversation,
}

impl Record {
    pub fn of(conv: &Conversation) -> Record {
        Record {
            members: Json(conv.members.clone()),
            muted: conv.muted.clone().map(Json),
            extra: Json(conv.extra.clone()),
            conv: conv.clone(),
        }
    }

    /// `first` and then the record's values, as statement parameters.
    pub fn params<'a>(&'a self, first: &'a (dyn ToSql + Sync)) -> [&'a (dyn ToSql + Sync); 14] {
        let c = &self.conv;
        [
            first,
            &c.creator,
            &self.members,
            &self.muted,
            &c.name,
            &c.attr,
            &c.transient,
            &c.system,
            &c.unique,
            &c.unique_key,
            &c.last_message_at,
            &c.created_at,
            &c.updated_at,
            &self.extra,
        ]
    }
}

/// Inserts a new conversation unless its id (or, for a unique one, its key) is
/// taken; returns its number.
pub const INSERT_CONV: &str = r#"INSERT INTO conversations ("objectId", c, m, mu, name, attr,
        tr, sys, "unique", unique_key, lm, "createdAt", "updatedAt", extra, last_seq)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0)
    ON CONFLICT DO NOTHING RETURNING num"#;

/// Rewrites the record of conversation `$1` (everything but its seq).
pub const UPDATE_CONV: &str = r#"UPDATE conversations SET c = $2, m = $3, mu = $4, name = $5,
        attr = $6, tr = $7, sys = $8, "unique" = $9, unique_key = $10, lm = $11,
        "createdAt" = $12, "updatedAt" = $13, extra = $14
    WHERE num = $1"#;

/// Refuses a record holding text PostgreSQL cannot store.
pub fn conv_storable(conv: &Conversation) -> Result<(), Refusal> {
    let mut texts: Vec<&str> = vec![&conv.id, &conv.creator];
    texts.extend(conv.members.iter().map(String::as_str));
    texts.extend(conv.muted.iter().flatten().map(String::as_str));
    texts.extend(conv.name.as_deref());
    texts.extend(conv.unique_key.as_deref());
    let mut stack: Vec<&Value> = conv.attr.iter().chain(conv.extra.values()).collect();
    for key in conv.extra.keys() {
        texts.push(key);
    }
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => texts.push(s),
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                texts.extend(map.keys().map(String::as_str));
                stack.extend(map.values());
            }
            _ => {}
        }
    }
    storable(texts)
}

/// The columns [`message_from_row`] reads (after any the query puts first).
pub const MSG_COLUMNS: &str = r#"seq, "msgId", "from", data, timestamp, "ackAt", receipt, meta"#;

/// A message from the columns of [`MSG_COLUMNS`] starting at `at`.
pub fn message_from_row(cid: &Arc<str>, r: &Row, at: usize) -> StoredMessage {
    let data: Vec<u8> = r.get(at + 3);
    StoredMessage {
        cid: cid.clone(),
        seq: r.get(at),
        id: r.get(at + 1),
        from: r.get(at + 2),
        data: String::from_utf8(data)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        timestamp: r.get(at + 4),
        ack_at: r.get(at + 5),
        receipt: r.get(at + 6),
        extras: Extras::from_meta(r.get::<_, Option<&str>>(at + 7)),
    }
}

/// A cursor's acked runs as stored.
pub fn ranges_from(v: Value) -> Vec<(i64, i64)> {
    serde_json::from_value(v).unwrap_or_default()
}

pub fn ranges_value(ranges: &[(i64, i64)]) -> Value {
    serde_json::to_value(ranges).unwrap_or(Value::Array(Vec::new()))
}

/// Inserts whole message rows, `(seq, message, receipt)`, into conversation `num`
/// in one statement (as import and migrate write history).
pub async fn insert_messages(
    c: &impl GenericClient,
    num: i64,
    rows: &[(i64, &ImportedMessage, bool)],
) -> Result<u64, tokio_postgres::Error> {
    let seqs: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let ids: Vec<&str> = rows.iter().map(|r| r.1.id.as_str()).collect();
    let froms: Vec<&str> = rows.iter().map(|r| r.1.from.as_str()).collect();
    let data: Vec<&[u8]> = rows.iter().map(|r| r.1.data.as_bytes()).collect();
    let times: Vec<i64> = rows.iter().map(|r| r.1.timestamp).collect();
    let acks: Vec<Option<i64>> = rows.iter().map(|r| r.1.ack_at).collect();
    let receipts: Vec<bool> = rows.iter().map(|r| r.2).collect();
    let metas: Vec<Option<&str>> = rows.iter().map(|r| r.1.meta.as_deref()).collect();
    c.execute(
        r#"INSERT INTO messages (conv, seq, "msgId", "from", data, timestamp, "ackAt", receipt,
                                 meta)
           SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bytea[],
                                    $6::bigint[], $7::bigint[], $8::bool[], $9::text[])"#,
        &[
            &num, &seqs, &ids, &froms, &data, &times, &acks, &receipts, &metas,
        ],
    )
    .await
}
