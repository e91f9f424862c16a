//! The data file's schema and its migrations; `PRAGMA user_version` counts those
//! applied. A new file runs every migration, so the v1 → v2 path runs on each start
//! of an empty file as well as on files written by the first release.

use rusqlite::{params, Connection, Transaction};

use super::rows::index_attr;
use crate::store::cursor::Cursor;
use crate::store::{backend, StoreResult};

/// The first release: per-recipient offline rows.
const V1: &str = r#"
CREATE TABLE conversations (
    "objectId"  TEXT PRIMARY KEY,
    c           TEXT NOT NULL,
    m           TEXT NOT NULL DEFAULT '[]',
    mu          TEXT,
    name        TEXT,
    attr        TEXT,
    tr          INTEGER NOT NULL DEFAULT 0,
    sys         INTEGER NOT NULL DEFAULT 0,
    "unique"    INTEGER NOT NULL DEFAULT 0,
    unique_key  TEXT,
    lm          INTEGER,
    "createdAt" INTEGER NOT NULL,
    "updatedAt" INTEGER NOT NULL,
    extra       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX conversations_unique_key ON conversations (unique_key) WHERE unique_key IS NOT NULL;
CREATE TABLE members (
    client_id TEXT NOT NULL,
    cid       TEXT NOT NULL,
    PRIMARY KEY (client_id, cid)
) WITHOUT ROWID;
CREATE TABLE messages (
    cid       TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    "msgId"   TEXT NOT NULL UNIQUE,
    "from"    TEXT NOT NULL,
    data      TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    "ackAt"   INTEGER,
    receipt   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (cid, seq)
);
CREATE INDEX messages_time ON messages (cid, timestamp, seq);
CREATE TABLE offline (
    client_id TEXT NOT NULL,
    cid       TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (client_id, cid, seq)
) WITHOUT ROWID;
"#;

/// Per-conversation seq and per-member cursors (see `ARCHITECTURE.md`):
/// - `conversations.num` is an internal number; `last_seq` the last message's seq.
/// - `messages.key` is `num << 32 | seq`, so a conversation's messages are one range
///   of the table in seq order; timestamps never decrease along it.
/// - `members.acked` is the highest seq up to which the member has every message
///   (acked, or its own); `acked_ranges` the acked runs above it.
/// - `conv_attrs` indexes the scalar leaves of `attr` for `conv query` equalities.
const V2: &str = r#"
CREATE TABLE conversations_v2 (
    num         INTEGER PRIMARY KEY,
    "objectId"  TEXT NOT NULL UNIQUE,
    c           TEXT NOT NULL,
    m           TEXT NOT NULL DEFAULT '[]',
    mu          TEXT,
    name        TEXT,
    attr        TEXT,
    tr          INTEGER NOT NULL DEFAULT 0,
    sys         INTEGER NOT NULL DEFAULT 0,
    "unique"    INTEGER NOT NULL DEFAULT 0,
    unique_key  TEXT,
    lm          INTEGER,
    "createdAt" INTEGER NOT NULL,
    "updatedAt" INTEGER NOT NULL,
    extra       TEXT NOT NULL DEFAULT '{}',
    last_seq    INTEGER NOT NULL DEFAULT 0
);
INSERT INTO conversations_v2 ("objectId", c, m, mu, name, attr, tr, sys, "unique", unique_key,
                              lm, "createdAt", "updatedAt", extra, last_seq)
    SELECT "objectId", c, m, mu, name, attr, tr, sys, "unique", unique_key, lm, "createdAt",
           "updatedAt", extra,
           COALESCE((SELECT MAX(seq) FROM messages WHERE messages.cid = conversations."objectId"), 0)
    FROM conversations ORDER BY "createdAt", "objectId";
CREATE TABLE messages_v2 (
    key       INTEGER PRIMARY KEY,
    "msgId"   TEXT NOT NULL UNIQUE,
    "from"    TEXT NOT NULL,
    data      TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    "ackAt"   INTEGER,
    receipt   INTEGER NOT NULL DEFAULT 0
);
INSERT INTO messages_v2 (key, "msgId", "from", data, timestamp, "ackAt", receipt)
    SELECT (c.num << 32) | m.seq, m."msgId", m."from", m.data, m.timestamp, m."ackAt", m.receipt
    FROM messages m JOIN conversations_v2 c ON c."objectId" = m.cid ORDER BY 1;
CREATE TABLE members_v2 (
    conv      INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    acked     INTEGER NOT NULL,
    PRIMARY KEY (conv, client_id)
) WITHOUT ROWID;
INSERT INTO members_v2 (conv, client_id, acked)
    SELECT c.num, mb.client_id,
           COALESCE((SELECT MIN(o.seq) - 1 FROM offline o
                     WHERE o.client_id = mb.client_id AND o.cid = mb.cid), c.last_seq)
    FROM members mb JOIN conversations_v2 c ON c."objectId" = mb.cid;
CREATE TABLE acked_ranges (
    conv      INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    lo        INTEGER NOT NULL,
    hi        INTEGER NOT NULL,
    PRIMARY KEY (conv, client_id, lo)
) WITHOUT ROWID;
CREATE TABLE conv_attrs (
    path TEXT NOT NULL,
    v    ANY NOT NULL,
    conv INTEGER NOT NULL
);
"#;

/// Swaps the v2 tables in once their content is complete.
const V2_SWAP: &str = r#"
DROP TABLE conversations;
DROP TABLE messages;
DROP TABLE members;
ALTER TABLE conversations_v2 RENAME TO conversations;
ALTER TABLE messages_v2 RENAME TO messages;
ALTER TABLE members_v2 RENAME TO members;
CREATE INDEX conversations_unique_key ON conversations (unique_key) WHERE unique_key IS NOT NULL;
CREATE INDEX conversations_lm ON conversations (lm);
CREATE INDEX conversations_name ON conversations (name) WHERE name IS NOT NULL;
CREATE INDEX conversations_creator ON conversations (c);
CREATE INDEX members_client ON members (client_id, conv);
CREATE INDEX conv_attrs_value ON conv_attrs (path, v);
CREATE INDEX conv_attrs_conv ON conv_attrs (conv);
"#;

/// Imported messages keep the record's other fields (`bin`, `from-ip`, unknown keys)
/// as a JSON object; NULL for messages sent to this server.
const V3: &str = "ALTER TABLE messages ADD COLUMN meta TEXT;";

/// The schema version this build writes.
pub const VERSION: u32 = 3;

/// Brings the file at `conn` to [`VERSION`], each step in its own transaction.
pub fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    if version > VERSION {
        return Err(crate::store::StoreError::Unavailable {
            detail: format!(
                "the data file has schema version {version}, newer than this build's {VERSION}"
            ),
            retryable: false,
        });
    }
    if version < 1 {
        step(conn, 1, |tx| tx.execute_batch(V1))?;
    }
    if version < 2 {
        if version == 1 {
            tracing::info!("migrating the data file from schema v1 to v2 (cursors)");
        }
        step(conn, 2, |tx| {
            tx.execute_batch(V2)?;
            ranges_from_offline_rows(tx)?;
            attr_index_from_conversations(tx)?;
            tx.execute_batch(V2_SWAP)
        })?;
    }
    if version < 3 {
        step(conn, 3, |tx| tx.execute_batch(V3))?;
    }
    Ok(())
}

fn step(
    conn: &mut Connection,
    version: u32,
    apply: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<()>,
) -> StoreResult<()> {
    let tx = conn.transaction().map_err(backend)?;
    apply(&tx).map_err(backend)?;
    tx.pragma_update(None, "user_version", version)
        .map_err(backend)?;
    tx.commit().map_err(backend)
}

/// v1 kept one row per pending (clientId, message). The cursor takes the lowest
/// pending seq minus one; every seq above it without a row (acked, the member's own,
/// or sent before the member joined) becomes part of an acked range.
fn ranges_from_offline_rows(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let mut rows = tx.prepare(
        "SELECT mb.conv, mb.client_id, o.seq, c.last_seq
         FROM offline o
         JOIN conversations_v2 c ON c.\"objectId\" = o.cid
         JOIN members_v2 mb ON mb.conv = c.num AND mb.client_id = o.client_id
         ORDER BY mb.conv, mb.client_id, o.seq",
    )?;
    let mut insert =
        tx.prepare("INSERT INTO acked_ranges (conv, client_id, lo, hi) VALUES (?1, ?2, ?3, ?4)")?;
    let mut flush = |conv: i64, client: &str, pending: &[i64], last_seq: i64| {
        for (lo, hi) in Cursor::from_pending(pending, last_seq).ranges() {
            insert.execute(params![conv, client, lo, hi])?;
        }
        Ok::<_, rusqlite::Error>(())
    };
    let mut group: Option<(i64, String, i64)> = None;
    let mut pending: Vec<i64> = Vec::new();
    let mut query = rows.query([])?;
    while let Some(row) = query.next()? {
        let (conv, client, seq, last_seq): (i64, String, i64, i64) =
            (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        if !matches!(&group, Some((c, id, _)) if *c == conv && *id == client) {
            if let Some((c, id, last)) = group.take() {
                flush(c, &id, &pending, last)?;
            }
            pending.clear();
            group = Some((conv, client, last_seq));
        }
        pending.push(seq);
    }
    if let Some((c, id, last)) = group {
        flush(c, &id, &pending, last)?;
    }
    Ok(())
}

fn attr_index_from_conversations(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let attrs: Vec<(i64, String)> = tx
        .prepare("SELECT num, attr FROM conversations_v2 WHERE attr IS NOT NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (num, attr) in attrs {
        if let Ok(value) = serde_json::from_str(&attr) {
            index_attr(tx, num, Some(&value))?;
        }
    }
    Ok(())
}
