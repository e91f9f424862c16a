//! History across conversations (the whole app, or what one client sent, wherever),
//! in `(timestamp, msgId)` order. There is no index across conversations: newest first,
//! conversations are visited by `lm` (their newest message) and the walk stops once no
//! older conversation can make the page; reversed, every conversation with messages
//! is visited. Within a conversation, a timestamp is a binary search over seqs.

use std::cmp::Ordering;
use std::sync::Arc;

use rusqlite::{params, Connection};

use super::first_seq_at;
use crate::domain::StoredMessage;
use crate::store::sqlite::rows::{message_from_row, message_key, MSG_COLUMNS};
use crate::store::{backend, AcrossRange, At, StoreResult};

/// Where `m` is against `at`: its `(timestamp, msgId)` compared, or only its time
/// when `at` names no message.
fn against(m: &StoredMessage, at: &At) -> Ordering {
    match &at.mid {
        Some(mid) => (m.timestamp, m.id.as_str()).cmp(&(at.timestamp, mid.as_str())),
        None => m.timestamp.cmp(&at.timestamp),
    }
}

/// Whether `m` lies on the wanted side of `at` (`Less`: before it).
fn within(m: &StoredMessage, at: Option<&At>, side: Ordering, inclusive: bool) -> bool {
    at.is_none_or(|at| {
        let o = against(m, at);
        o == side || (inclusive && o == Ordering::Equal)
    })
}

/// A bound of a page, and whether the message it names is in the page.
type Edge<'a> = (Option<&'a At>, bool);

/// A conversation with messages: its id, number, `lm` and last seq.
type Candidate = (String, i64, Option<i64>, i64);

impl AcrossRange {
    /// The bounds as (older, newer).
    fn bounds(&self) -> (Edge<'_>, Edge<'_>) {
        let start = (self.start.as_ref(), self.include_start);
        let till = (self.till.as_ref(), self.include_stop);
        if self.reversed {
            (start, till)
        } else {
            (till, start)
        }
    }

    fn admits(&self, m: &StoredMessage) -> bool {
        let ((older, inc_older), (newer, inc_newer)) = self.bounds();
        within(m, older, Ordering::Greater, inc_older)
            && within(m, newer, Ordering::Less, inc_newer)
    }

    /// The page order: newest first, or oldest first when reversed.
    fn order(&self, a: &StoredMessage, b: &StoredMessage) -> Ordering {
        let o = (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id));
        if self.reversed {
            o
        } else {
            o.reverse()
        }
    }
}

/// Conversations with messages: `(objectId, num, lm, last_seq)`, newest `lm` first.
fn candidates(conn: &Connection) -> StoreResult<Vec<Candidate>> {
    conn.prepare_cached(
        r#"SELECT "objectId", num, lm, last_seq FROM conversations
           WHERE last_seq > 0 ORDER BY lm DESC"#,
    )
    .and_then(|mut st| {
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect()
    })
    .map_err(backend)
}

/// The wanted messages of one conversation, at most `limit`, in page order.
fn from_conversation(
    conn: &Connection,
    range: &AcrossRange,
    (cid, num, last_seq): (&str, i64, i64),
) -> StoreResult<Vec<StoredMessage>> {
    let ((older, _), (newer, _)) = range.bounds();
    // Seqs outside the bounds' milliseconds are not read.
    let lo = match older {
        Some(at) => first_seq_at(conn, num, last_seq, at.timestamp)? - 1,
        None => 0,
    };
    let hi = match newer {
        Some(at) => first_seq_at(conn, num, last_seq, at.timestamp.saturating_add(1))?,
        None => last_seq + 1,
    };
    if hi <= lo + 1 {
        return Ok(Vec::new());
    }
    let order = if range.reversed { "ASC" } else { "DESC" };
    // One sender: the other senders' rows are skipped by SQLite, not read out.
    let sender = if range.from.is_some() {
        r#"AND "from" = ?3"#
    } else {
        "AND ?3 IS NULL"
    };
    let cid: Arc<str> = Arc::from(cid);
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {MSG_COLUMNS} FROM messages WHERE key > ?1 AND key < ?2 {sender} ORDER BY key {order}"
        ))
        .map_err(backend)?;
    let keys = (message_key(num, lo), message_key(num, hi));
    let rows = st
        .query_map(params![keys.0, keys.1, range.from], |r| {
            message_from_row(&cid, r)
        })
        .map_err(backend)?;
    let mut out = Vec::new();
    for row in rows {
        let m = row.map_err(backend)?;
        if range.admits(&m) {
            out.push(m);
            if out.len() == range.limit {
                break;
            }
        }
    }
    Ok(out)
}

pub fn across(conn: &Connection, range: &AcrossRange) -> StoreResult<Vec<StoredMessage>> {
    let mut page: Vec<StoredMessage> = Vec::new();
    if range.limit == 0 {
        return Ok(page);
    }
    for (cid, num, lm, last_seq) in candidates(conn)? {
        let full = page.len() == range.limit;
        // Newest first, a conversation whose newest message is older than the page's
        // oldest cannot add to it, nor can any after it.
        if full && !range.reversed {
            let oldest = page.last().map_or(i64::MIN, |m| m.timestamp);
            if lm.is_some_and(|lm| lm < oldest) {
                break;
            }
        }
        page.extend(from_conversation(conn, range, (&cid, num, last_seq))?);
        page.sort_by(|a, b| range.order(a, b));
        page.truncate(range.limit);
    }
    Ok(page)
}
