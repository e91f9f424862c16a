//! The reads, run on reader connections: conversations, `conv query` with its index
//! plan, history, and what a login owes.

use std::sync::Arc;

use leanrt_protocol::command::Bound;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

mod across;
pub use across::across;

use super::rows::{
    conv_from_row, key_seq, message_from_row, message_key, sql_value, ConvRow, CONV_COLUMNS,
    MSG_COLUMNS,
};
use crate::domain::query::Query;
use crate::domain::{Refusal, StoredMessage};
use crate::store::{backend, bounds, Admit, LogRange, Pending, PendingPage, QueryHit, StoreResult};

pub fn conversation(conn: &Connection, cid: &str) -> StoreResult<Option<ConvRow>> {
    conn.prepare_cached(&format!(
        r#"SELECT {CONV_COLUMNS} FROM conversations WHERE "objectId" = ?1"#
    ))
    .and_then(|mut st| st.query_row([cid], conv_from_row).optional())
    .map_err(backend)
}

/// How a query finds its candidates.
enum Plan {
    Ids(Vec<String>),
    Member(String),
    /// An indexed column or `attr.` leaf equal to a value.
    Equal(&'static str, rusqlite::types::Value, Option<String>),
    /// Conversations in `lm` order (descending if set), read until the page is full.
    ByLm(bool),
    All,
}

fn plan(q: &Query) -> Plan {
    if let Some(ids) = q.object_ids() {
        return Plan::Ids(ids);
    }
    if let Some(member) = q.member() {
        return Plan::Member(member);
    }
    for (path, value) in q.equalities() {
        let Some(sql) = sql_value(value) else {
            continue;
        };
        match path {
            "name" if value.is_string() => return Plan::Equal("name", sql, None),
            "c" if value.is_string() => return Plan::Equal("c", sql, None),
            p if p.starts_with("attr.") => return Plan::Equal("attr", sql, Some(p.to_owned())),
            _ => {}
        }
    }
    match q.lm_order() {
        Some(descending) if q.sort.len() == 1 => Plan::ByLm(descending),
        _ => Plan::All,
    }
}

/// Whether `q` may read every conversation (no index narrows it).
pub fn may_scan(q: &Query) -> bool {
    matches!(plan(q), Plan::ByLm(_) | Plan::All)
}

fn rows_of(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> StoreResult<Vec<ConvRow>> {
    let mut st = conn.prepare_cached(sql).map_err(backend)?;
    let rows = st
        .query_map(args, conv_from_row)
        .and_then(|rows| rows.collect())
        .map_err(backend);
    rows
}

/// Fields of the match document and the columns that hold them (see
/// [`CONV_COLUMNS`]); any other field is a custom key, in `extra`.
const DOC_COLUMNS: [(&str, usize); 12] = [
    ("objectId", 1),
    ("c", 2),
    ("m", 3),
    ("mu", 4),
    ("name", 5),
    ("attr", 6),
    ("tr", 7),
    ("sys", 8),
    ("unique", 9),
    ("lm", 11),
    ("createdAt", 12),
    ("updatedAt", 13),
];

/// The match document of a row (`Conversation::match_doc`) with only `fields`,
/// decoding only their columns: scanning reads every conversation, most of which
/// do not match.
fn partial_doc(
    r: &Row<'_>,
    fields: &std::collections::BTreeSet<String>,
) -> rusqlite::Result<Value> {
    use rusqlite::types::ValueRef;
    let json = |col: usize| -> rusqlite::Result<Option<Value>> {
        Ok(match r.get_ref(col)? {
            ValueRef::Text(t) => serde_json::from_slice(t).ok(),
            _ => None,
        })
    };
    let custom = fields
        .iter()
        .any(|f| !DOC_COLUMNS.iter().any(|(name, _)| name == f));
    let mut doc = match (custom, json(14)?) {
        (true, Some(Value::Object(extra))) => extra,
        _ => serde_json::Map::new(),
    };
    let transient: bool = r.get(7)?;
    for (name, col) in DOC_COLUMNS {
        if !fields.contains(name) || (name == "m" && transient) {
            continue;
        }
        let value = match col {
            3 | 4 | 6 => json(col)?,
            7..=9 => Some(Value::Bool(r.get(col)?)),
            _ => match r.get_ref(col)? {
                ValueRef::Text(t) => Some(Value::String(String::from_utf8_lossy(t).into_owned())),
                ValueRef::Integer(n) => Some(Value::from(n)),
                _ => None,
            },
        };
        if let Some(value) = value {
            doc.insert(name.to_owned(), value);
        } else {
            doc.remove(name);
        }
    }
    Ok(Value::Object(doc))
}

/// Reads the rows of `st` that match `q`, stopping after `wanted` (when the rows come
/// in the final order) or at the end.
fn scan(
    st: &mut rusqlite::Statement<'_>,
    q: &Query,
    wanted: usize,
) -> StoreResult<Vec<(Value, ConvRow)>> {
    let fields = q.fields();
    let mut rows = st.query([]).map_err(backend)?;
    let mut hits = Vec::new();
    while hits.len() < wanted {
        let Some(row) = rows.next().map_err(backend)? else {
            break;
        };
        let doc = partial_doc(row, &fields).map_err(backend)?;
        if q.matches(&doc) {
            hits.push((doc, conv_from_row(row).map_err(backend)?));
        }
    }
    Ok(hits)
}

pub fn query(conn: &Connection, q: &Query) -> StoreResult<Vec<QueryHit>> {
    let select = format!("SELECT {CONV_COLUMNS} FROM conversations");
    let wanted = q.skip.saturating_add(q.limit);
    let matching = |row: ConvRow| {
        let doc = row.conv.match_doc();
        q.matches(&doc).then_some((doc, row))
    };
    let mut hits: Vec<(Value, ConvRow)> = match plan(q) {
        Plan::ByLm(descending) => {
            // Already in the final order (ties by creation): stop once the page is full.
            let order = if descending { "DESC" } else { "ASC" };
            let mut st = conn
                .prepare_cached(&format!("{select} ORDER BY lm {order}, num ASC"))
                .map_err(backend)?;
            let page = scan(&mut st, q, wanted)?.into_iter().skip(q.skip).collect();
            return finish(conn, q, page);
        }
        Plan::Ids(ids) => {
            let mut found = Vec::new();
            for id in &ids {
                found.extend(conversation(conn, id)?);
            }
            found.sort_by_key(|r| r.num);
            found.dedup_by_key(|r| r.num);
            found
        }
        Plan::Member(member) => rows_of(
            conn,
            &format!("{select} WHERE num IN (SELECT conv FROM members WHERE client_id = ?1)"),
            [member],
        )?,
        Plan::Equal("attr", value, Some(path)) => rows_of(
            conn,
            &format!(
                "{select} WHERE num IN (SELECT conv FROM conv_attrs WHERE path = ?1 AND v = ?2)"
            ),
            params![path, value],
        )?,
        Plan::Equal(column, value, _) => {
            rows_of(conn, &format!("{select} WHERE {column} = ?1"), [value])?
        }
        Plan::All => {
            let mut st = conn
                .prepare_cached(&format!("{select} ORDER BY num"))
                .map_err(backend)?;
            let mut hits = scan(&mut st, q, usize::MAX)?;
            hits.sort_by(|(a, ra), (b, rb)| q.compare(a, b).then(ra.num.cmp(&rb.num)));
            let page = hits.into_iter().skip(q.skip).take(q.limit).collect();
            return finish(conn, q, page);
        }
    }
    .into_iter()
    .filter_map(matching)
    .collect();
    hits.sort_by(|(a, ra), (b, rb)| q.compare(a, b).then(ra.num.cmp(&rb.num)));
    let page = hits.into_iter().skip(q.skip).take(q.limit).collect();
    finish(conn, q, page)
}

/// The page of a query, with the last message of each conversation when asked.
fn finish(conn: &Connection, q: &Query, hits: Vec<(Value, ConvRow)>) -> StoreResult<Vec<QueryHit>> {
    hits.into_iter()
        .map(|(_, row)| {
            let last = if q.with_last_message && row.last_seq > 0 {
                let cid: Arc<str> = Arc::from(row.conv.id.as_str());
                conn.prepare_cached(&format!(
                    "SELECT {MSG_COLUMNS} FROM messages WHERE key = ?1"
                ))
                .and_then(|mut st| {
                    st.query_row([message_key(row.num, row.last_seq)], |r| {
                        message_from_row(&cid, r)
                    })
                    .optional()
                })
                .map_err(backend)?
            } else {
                None
            };
            Ok((row.conv, last))
        })
        .collect()
}

/// The time of the first message of `num` with a seq at or above `seq`, and its seq.
fn time_at(conn: &Connection, num: i64, seq: i64) -> StoreResult<Option<(i64, i64)>> {
    conn.prepare_cached(
        "SELECT key, timestamp FROM messages WHERE key >= ?1 AND key <= ?2 ORDER BY key LIMIT 1",
    )
    .and_then(|mut st| {
        st.query_row(
            params![
                message_key(num, seq),
                message_key(num, super::rows::MAX_SEQ)
            ],
            |r| Ok((key_seq(r.get(0)?), r.get(1)?)),
        )
        .optional()
    })
    .map_err(backend)
}

/// The first seq whose message is at `t` or later (`last_seq + 1` if none): a binary
/// search, since timestamps never decrease along seq.
fn first_seq_at(conn: &Connection, num: i64, last_seq: i64, t: i64) -> StoreResult<i64> {
    let (mut lo, mut hi) = (1, last_seq + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match time_at(conn, num, mid)? {
            Some((_, ts)) if ts >= t => hi = mid,
            Some((seq, _)) if seq >= hi => hi = mid,
            Some(_) => lo = mid + 1,
            None => hi = mid,
        }
    }
    Ok(lo)
}

/// The seq of message `mid` in conversation `num`, if it is one of its messages.
fn seq_of(conn: &Connection, num: i64, mid: &str) -> StoreResult<Option<i64>> {
    let key: Option<i64> = conn
        .prepare_cached(r#"SELECT key FROM messages WHERE "msgId" = ?1"#)
        .and_then(|mut st| st.query_row([mid], |r| r.get(0)).optional())
        .map_err(backend)?;
    Ok(key.filter(|k| k >> 32 == num).map(key_seq))
}

/// A bound as the exclusive seq it stands for (see [`bounds::bound_seq`]).
fn bound_seq(
    conn: &Connection,
    num: i64,
    last_seq: i64,
    bound: &Bound,
    upper: bool,
    inclusive: bool,
) -> StoreResult<Option<i64>> {
    let named = match &bound.mid {
        Some(mid) => seq_of(conn, num, mid)?,
        None => None,
    };
    let millisecond = match bound.timestamp {
        Some(t) => Some((
            first_seq_at(conn, num, last_seq, t)?,
            first_seq_at(conn, num, last_seq, t.saturating_add(1))?,
        )),
        None => None,
    };
    Ok(bounds::bound_seq(named, millisecond, upper, inclusive))
}

pub fn logs(conn: &Connection, range: &LogRange, admit: Admit) -> StoreResult<Vec<StoredMessage>> {
    let row = conversation(conn, &range.cid)?.ok_or(Refusal::NotFound)?;
    admit(&row.conv, &range.requester)?;
    if range.limit == 0 {
        return Ok(Vec::new());
    }
    let (num, last) = (row.num, row.last_seq);
    let hi =
        bound_seq(conn, num, last, &range.before, true, range.include_before)?.unwrap_or(last + 1);
    let lo = bound_seq(conn, num, last, &range.after, false, range.include_after)?.unwrap_or(0);
    if hi <= lo + 1 {
        return Ok(Vec::new());
    }
    let cid: Arc<str> = Arc::from(range.cid.as_str());
    let order = if range.oldest { "ASC" } else { "DESC" };
    let mut out = messages(
        conn,
        &format!("SELECT {MSG_COLUMNS} FROM messages WHERE key > ?1 AND key < ?2 ORDER BY key {order} LIMIT ?3"),
        params![
            message_key(row.num, lo),
            message_key(row.num, hi),
            range.limit as i64
        ],
        &cid,
    )?;
    if !range.oldest {
        out.reverse();
    }
    Ok(out)
}

fn messages(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
    cid: &Arc<str>,
) -> StoreResult<Vec<StoredMessage>> {
    let mut st = conn.prepare_cached(sql).map_err(backend)?;
    let read = |r: &Row<'_>| message_from_row(cid, r);
    let rows = st
        .query_map(args, read)
        .and_then(|rows| rows.collect())
        .map_err(backend);
    rows
}

pub fn pending(conn: &Connection, client: &str, conversations: usize) -> StoreResult<Vec<Pending>> {
    let found: Vec<(String, i64, i64, i64)> = conn
        .prepare_cached(
            r#"SELECT c."objectId", c.num, m.acked, c.last_seq
               FROM members m JOIN conversations c ON c.num = m.conv
               WHERE m.client_id = ?1 AND c.last_seq > m.acked
               ORDER BY c.lm DESC, c.num DESC LIMIT ?2"#,
        )
        .and_then(|mut st| {
            st.query_map(
                params![client, i64::try_from(conversations).unwrap_or(i64::MAX)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?
            .collect()
        })
        .map_err(backend)?;
    let mut out = Vec::with_capacity(found.len());
    // Pushed oldest first: the conversation with the newest message comes last.
    for (cid, num, after, upto) in found.into_iter().rev() {
        let acked: Vec<(i64, i64)> = conn
            .prepare_cached(
                "SELECT lo, hi FROM acked_ranges WHERE conv = ?1 AND client_id = ?2 ORDER BY lo",
            )
            .and_then(|mut st| {
                st.query_map(params![num, client], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(backend)?;
        out.push(Pending {
            cid: Arc::from(cid),
            after,
            upto,
            acked,
        });
    }
    Ok(out)
}

pub fn pending_page(
    conn: &Connection,
    client: &str,
    p: &Pending,
    limit: usize,
) -> StoreResult<PendingPage> {
    let Some(row) = conversation(conn, &p.cid)? else {
        return Ok(PendingPage {
            messages: Vec::new(),
            scanned_to: p.upto,
        });
    };
    let limit = limit.max(1);
    let rows = messages(
        conn,
        &format!(
            r#"SELECT {MSG_COLUMNS} FROM messages WHERE key > ?1 AND key <= ?2 AND "from" <> ?3 ORDER BY key LIMIT ?4"#
        ),
        params![
            message_key(row.num, p.after),
            message_key(row.num, p.upto),
            client,
            limit as i64
        ],
        &p.cid,
    )?;
    Ok(PendingPage::of(rows, p, limit))
}
