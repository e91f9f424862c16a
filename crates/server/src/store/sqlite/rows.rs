//! Rows of the data file and the Rust values they hold.

use std::sync::Arc;

use rusqlite::{params, params_from_iter, Connection, Row};
use serde_json::{Map, Value};

use crate::domain::{Conversation, Extras, StoredMessage};
use crate::store::ImportedMessage;

/// Bits of a message key below the conversation number.
const SEQ_BITS: u32 = 32;

/// The key of message `seq` of conversation `num`.
pub fn message_key(num: i64, seq: i64) -> i64 {
    (num << SEQ_BITS) | seq
}

/// The seq within a message key.
pub fn key_seq(key: i64) -> i64 {
    key & ((1 << SEQ_BITS) - 1)
}

pub use crate::store::sequence::MAX_SEQ;

/// The columns [`conv_from_row`] reads, after `num` and before `last_seq`.
pub const CONV_COLUMNS: &str = r#"num, "objectId", c, m, mu, name, attr, tr, sys, "unique",
    unique_key, lm, "createdAt", "updatedAt", extra, last_seq"#;

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn from_json<T: serde::de::DeserializeOwned>(s: Option<String>) -> Option<T> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

/// A conversation row: its number, the record and its last seq.
pub struct ConvRow {
    pub num: i64,
    pub conv: Conversation,
    pub last_seq: i64,
}

pub fn conv_from_row(r: &Row<'_>) -> rusqlite::Result<ConvRow> {
    Ok(ConvRow {
        num: r.get(0)?,
        conv: Conversation {
            id: r.get(1)?,
            creator: r.get(2)?,
            members: from_json(r.get(3)?).unwrap_or_default(),
            muted: from_json(r.get(4)?),
            name: r.get(5)?,
            attr: from_json(r.get(6)?),
            transient: r.get(7)?,
            system: r.get(8)?,
            unique: r.get(9)?,
            unique_key: r.get(10)?,
            last_message_at: r.get(11)?,
            created_at: r.get(12)?,
            updated_at: r.get(13)?,
            extra: from_json::<Map<String, Value>>(r.get(14)?).unwrap_or_default(),
        },
        last_seq: r.get(15)?,
    })
}

/// The record's values for every column but `objectId` and the numbers, in the order
/// of the `c = ?2 … extra = ?14` placeholders below.
fn record(conv: &Conversation) -> [rusqlite::types::Value; 13] {
    use rusqlite::types::Value as Sql;
    let text = |s: Option<String>| s.map_or(Sql::Null, Sql::Text);
    let int = |n: Option<i64>| n.map_or(Sql::Null, Sql::Integer);
    [
        Sql::Text(conv.creator.clone()),
        Sql::Text(to_json(&conv.members)),
        text(conv.muted.as_ref().map(to_json)),
        text(conv.name.clone()),
        text(conv.attr.as_ref().map(to_json)),
        Sql::Integer(conv.transient.into()),
        Sql::Integer(conv.system.into()),
        Sql::Integer(conv.unique.into()),
        text(conv.unique_key.clone()),
        int(conv.last_message_at),
        Sql::Integer(conv.created_at),
        Sql::Integer(conv.updated_at),
        Sql::Text(to_json(&conv.extra)),
    ]
}

/// `?1` then the record's values.
fn with_record(first: rusqlite::types::Value, conv: &Conversation) -> Vec<rusqlite::types::Value> {
    std::iter::once(first).chain(record(conv)).collect()
}

/// Inserts a new conversation; returns its number.
pub fn insert_conv(conn: &Connection, conv: &Conversation) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        r#"INSERT INTO conversations ("objectId", c, m, mu, name, attr, tr, sys, "unique",
               unique_key, lm, "createdAt", "updatedAt", extra, last_seq)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 0)"#,
    )?
    .execute(params_from_iter(with_record(conv.id.clone().into(), conv)))?;
    Ok(conn.last_insert_rowid())
}

/// Rewrites the record of conversation `num` (everything but its seq).
pub fn update_conv(conn: &Connection, num: i64, conv: &Conversation) -> rusqlite::Result<()> {
    conn.prepare_cached(
        r#"UPDATE conversations SET c = ?2, m = ?3, mu = ?4, name = ?5, attr = ?6, tr = ?7,
               sys = ?8, "unique" = ?9, unique_key = ?10, lm = ?11, "createdAt" = ?12,
               "updatedAt" = ?13, extra = ?14
           WHERE num = ?1"#,
    )?
    .execute(params_from_iter(with_record(num.into(), conv)))
    .map(drop)
}

/// Longest string value indexed.
const MAX_INDEXED_TEXT: usize = 256;

/// Replaces the `conv_attrs` rows of `num` with the scalar leaves of `attr` (and the
/// scalar elements of its arrays), keyed by their `attr.` dot path. The record size
/// cap bounds their number.
pub fn index_attr(conn: &Connection, num: i64, attr: Option<&Value>) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM conv_attrs WHERE conv = ?1")?
        .execute([num])?;
    let Some(attr) = attr else {
        return Ok(());
    };
    let mut insert =
        conn.prepare_cached("INSERT INTO conv_attrs (path, v, conv) VALUES (?1, ?2, ?3)")?;
    let mut stack: Vec<(String, &Value)> = vec![("attr".to_owned(), attr)];
    while let Some((path, value)) = stack.pop() {
        let leaves: Vec<&Value> = match value {
            Value::Object(map) => {
                stack.extend(map.iter().map(|(k, v)| (format!("{path}.{k}"), v)));
                continue;
            }
            Value::Array(items) => items.iter().collect(),
            leaf => vec![leaf],
        };
        for v in leaves.into_iter().filter_map(sql_value) {
            insert.execute(params![path, v, num])?;
        }
    }
    Ok(())
}

/// A JSON scalar as an SQL value for `conv_attrs` (booleans as 0/1: a lookup may
/// return more candidates than match, never fewer).
pub fn sql_value(v: &Value) -> Option<rusqlite::types::Value> {
    use rusqlite::types::Value as Sql;
    match v {
        Value::Bool(b) => Some(Sql::Integer(i64::from(*b))),
        Value::Number(n) => n
            .as_i64()
            .map(Sql::Integer)
            .or_else(|| n.as_f64().map(Sql::Real)),
        Value::String(s) if s.len() <= MAX_INDEXED_TEXT => Some(Sql::Text(s.clone())),
        _ => None,
    }
}

/// The columns [`message_from_row`] reads.
pub const MSG_COLUMNS: &str = r#"key, "msgId", "from", data, timestamp, "ackAt", receipt, meta"#;

pub fn message_from_row(cid: &Arc<str>, r: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    Ok(StoredMessage {
        cid: cid.clone(),
        seq: key_seq(r.get(0)?),
        id: r.get(1)?,
        from: r.get(2)?,
        data: r.get(3)?,
        timestamp: r.get(4)?,
        ack_at: r.get(5)?,
        receipt: r.get(6)?,
        extras: Extras::from_meta(r.get::<_, Option<String>>(7)?.as_deref()),
    })
}

/// Every column of a message, for [`full_message_from_row`].
pub const FULL_MSG_COLUMNS: &str =
    r#"key, "msgId", "from", data, timestamp, "ackAt", receipt, meta"#;

/// A message with all it keeps (as import and migrate move it): its key, the
/// message, and whether it asked for receipts.
pub fn full_message_from_row(r: &Row<'_>) -> rusqlite::Result<(i64, ImportedMessage, bool)> {
    Ok((
        r.get(0)?,
        ImportedMessage {
            id: r.get(1)?,
            from: r.get(2)?,
            data: r.get(3)?,
            timestamp: r.get(4)?,
            ack_at: r.get(5)?,
            meta: r.get(7)?,
        },
        r.get(6)?,
    ))
}
