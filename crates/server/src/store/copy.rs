//! `leanrt-server migrate`: an SQLite deployment copied into PostgreSQL, one
//! conversation per transaction (its record, every message with its seq, `ackAt` and
//! `meta`, and every member's cursor), so that a run that stops half-way loses
//! nothing and the next run goes on: a conversation already in the database is
//! left as it is.

use std::path::Path;

use rusqlite::{params, Connection};
use serde_json::Value;
use tokio_postgres::types::Json;
use tokio_postgres::Client;

use super::postgres::errors::pg;
use super::postgres::rows::{insert_messages, ranges_value, Record, INSERT_CONV};
use super::sequence::MAX_SEQ;
use super::sqlite::rows::{
    conv_from_row, full_message_from_row, key_seq, message_key, ConvRow, CONV_COLUMNS,
    FULL_MSG_COLUMNS,
};
use super::{backend, ImportedMessage, StoreResult};

/// Conversations read from SQLite at a time.
const CONVERSATIONS: i64 = 256;
/// Messages copied per statement.
const MESSAGES: i64 = 5000;

/// What a run copied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Copied {
    /// Conversations in the SQLite file.
    pub total: u64,
    pub conversations: u64,
    /// Already in the database (copied by an earlier run, or created there).
    pub skipped: u64,
    pub messages: u64,
    pub cursors: u64,
}

/// Copies the SQLite file `from` into the PostgreSQL database `to`, calling
/// `progress` after each conversation. The file must not be in use by a server.
pub async fn sqlite_to_postgres(
    from: &Path,
    to: &str,
    mut progress: impl FnMut(&Copied),
) -> StoreResult<Copied> {
    if !from.is_file() {
        return Err(backend(format!("{}: no such data file", from.display())));
    }
    let _held = super::sqlite::lock(from)?;
    let mut src = Connection::open(from).map_err(backend)?;
    super::sqlite::schema::migrate(&mut src)?;
    let (_, mut dst) = super::postgres::open_migrated(to).await?;
    let mut copied = Copied {
        total: src
            .query_row("SELECT count(*) FROM conversations", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(backend)? as u64,
        ..Copied::default()
    };
    let mut after = 0i64;
    loop {
        let chunk = conversations(&src, after)?;
        let Some(last) = chunk.last() else {
            break;
        };
        after = last.num;
        for row in chunk {
            copy_conversation(&src, &mut dst, row, &mut copied).await?;
            progress(&copied);
        }
    }
    Ok(copied)
}

fn conversations(src: &Connection, after: i64) -> StoreResult<Vec<ConvRow>> {
    src.prepare_cached(&format!(
        "SELECT {CONV_COLUMNS} FROM conversations WHERE num > ?1 ORDER BY num LIMIT ?2"
    ))
    .and_then(|mut st| {
        st.query_map(params![after, CONVERSATIONS], conv_from_row)?
            .collect()
    })
    .map_err(backend)
}

async fn copy_conversation(
    src: &Connection,
    dst: &mut Client,
    row: ConvRow,
    copied: &mut Copied,
) -> StoreResult<()> {
    let tx = dst.transaction().await.map_err(pg)?;
    let record = Record::of(&row.conv);
    let inserted = tx
        .query_opt(INSERT_CONV, &record.params(&row.conv.id))
        .await
        .map_err(pg)?;
    let Some(num) = inserted.map(|r| r.get::<_, i64>(0)) else {
        copied.skipped += 1;
        return Ok(());
    };
    tx.execute(
        "UPDATE conversations SET last_seq = $2 WHERE num = $1",
        &[&num, &row.last_seq],
    )
    .await
    .map_err(pg)?;
    let (clients, acked, ranges) = cursors(src, row.num)?;
    tx.execute(
        "INSERT INTO members (conv, client_id, acked, ranges)
         SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::jsonb[])",
        &[&num, &clients, &acked, &ranges],
    )
    .await
    .map_err(pg)?;
    let mut from = message_key(row.num, 0);
    loop {
        let messages = messages(src, from, message_key(row.num, MAX_SEQ))?;
        let Some(&(key, _, _)) = messages.last() else {
            break;
        };
        from = key;
        let rows: Vec<(i64, &ImportedMessage, bool)> = messages
            .iter()
            .map(|(key, m, receipt)| (key_seq(*key), m, *receipt))
            .collect();
        insert_messages(&tx, num, &rows).await.map_err(pg)?;
        copied.messages += rows.len() as u64;
    }
    tx.commit().await.map_err(pg)?;
    copied.conversations += 1;
    copied.cursors += clients.len() as u64;
    Ok(())
}

/// The members of SQLite conversation `num`: clientIds, cursors and acked runs.
type Cursors = (Vec<String>, Vec<i64>, Vec<Json<Value>>);

fn cursors(src: &Connection, num: i64) -> StoreResult<Cursors> {
    let members: Vec<(String, i64)> = src
        .prepare_cached("SELECT client_id, acked FROM members WHERE conv = ?1 ORDER BY client_id")
        .and_then(|mut st| {
            st.query_map([num], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(backend)?;
    let mut runs = src
        .prepare_cached(
            "SELECT lo, hi FROM acked_ranges WHERE conv = ?1 AND client_id = ?2 ORDER BY lo",
        )
        .map_err(backend)?;
    let mut out: Cursors = (Vec::new(), Vec::new(), Vec::new());
    for (client, acked) in members {
        let ranges: Vec<(i64, i64)> = runs
            .query_map(params![num, client], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(backend)?;
        out.0.push(client);
        out.1.push(acked);
        out.2.push(Json(ranges_value(&ranges)));
    }
    Ok(out)
}

/// Up to [`MESSAGES`] messages with keys in `(after, upto]`: key, message, receipt.
fn messages(
    src: &Connection,
    after: i64,
    upto: i64,
) -> StoreResult<Vec<(i64, ImportedMessage, bool)>> {
    src.prepare_cached(&format!(
        "SELECT {FULL_MSG_COLUMNS} FROM messages WHERE key > ?1 AND key <= ?2 ORDER BY key LIMIT ?3"
    ))
    .and_then(|mut st| {
        st.query_map(params![after, upto, MESSAGES], full_message_from_row)?
            .collect()
    })
    .map_err(backend)
}
