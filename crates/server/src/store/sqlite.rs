//! The SQLite store: one writer thread owning the connection, committing every pending
//! operation in one transaction (group commit). An operation's result is handed back
//! only after its batch commits.
//!
//! Reads go through the same thread, which keeps them consistent with the writes
//! queued before them and makes `:memory:` databases work unchanged.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Mutex};
use std::thread::JoinHandle;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use super::{
    Bound, Conversation, LogQuery, MembershipChange, Message, NewConversation, NewMessage, Offline,
    QueryHit, Receipt, SendReceipt, Store, StoreError, StoreResult,
};
use crate::query::Query;

/// Most operations committed in one transaction.
const MAX_BATCH: usize = 512;

/// WAL with `synchronous = NORMAL`: a commit is durable against a process crash
/// without an fsync. A 64 MiB page cache keeps hot pages out of `pread`. Checkpoints
/// stay at SQLite's default (every 1000 pages): larger ones stall the writer, and so
/// every ack, for longer (soak p99 grew from 12 to 100 ms with 8192).
const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
    PRAGMA busy_timeout = 5000; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;";

/// Schema migrations; `PRAGMA user_version` counts those applied.
const MIGRATIONS: [&str; 1] = [r#"
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
"#];

type Done = Box<dyn FnOnce(Result<(), String>) + Send>;
/// An operation; it gets no connection when its batch could not begin a transaction.
/// It sets the flag when it failed in a way that must undo its whole batch.
type Work = Box<dyn FnOnce(Option<&Db>, &mut bool) -> Done + Send>;

/// Conversations kept by the writer: enough for the busy ones, cleared when full.
const RECENT_CONVERSATIONS: usize = 4096;

/// The writer thread's connection, and the conversations it used recently with their
/// next message `seq`, as written so far (committed, or in the open transaction). A
/// message then costs no conversation read and no `MAX(seq)`. Cleared whenever writes
/// are rolled back.
struct Db {
    conn: Connection,
    recent: RefCell<HashMap<String, Recent>>,
}

#[derive(Clone)]
struct Recent {
    conv: Conversation,
    next_seq: Option<i64>,
}

impl Deref for Db {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl Db {
    fn recent(&self, cid: &str) -> Option<Recent> {
        self.recent.borrow().get(cid).cloned()
    }

    fn remember(&self, recent: Recent) {
        let mut map = self.recent.borrow_mut();
        if map.len() >= RECENT_CONVERSATIONS && !map.contains_key(&recent.conv.id) {
            map.clear();
        }
        map.insert(recent.conv.id.clone(), recent);
    }

    fn forget(&self, cid: &str) {
        self.recent.borrow_mut().remove(cid);
    }

    /// After a rollback nothing remembered can be trusted.
    fn forget_all(&self) {
        self.recent.borrow_mut().clear();
    }
}

/// How an operation is isolated from the others of its batch.
#[derive(Clone, Copy)]
enum Isolation {
    /// In a savepoint: a failure undoes only this operation's writes.
    Savepoint,
    /// Without one, for operations whose other failures all come before their first
    /// write: a backend failure then undoes the whole batch. Saves two statements per
    /// operation on the hot paths.
    Batch,
}

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    jobs: Mutex<Option<mpsc::Sender<Work>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `path`, or an in-memory
    /// one for `:memory:`.
    pub fn open(path: &str) -> StoreResult<SqliteStore> {
        let conn = Connection::open(path).map_err(backend)?;
        conn.execute_batch(PRAGMAS).map_err(backend)?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&conn)?;
        let (tx, rx) = mpsc::channel::<Work>();
        let thread = std::thread::Builder::new()
            .name("leanrt-store".into())
            .spawn(move || {
                let db = Db {
                    conn,
                    recent: RefCell::default(),
                };
                writer_loop(db, rx)
            })
            .map_err(backend)?;
        Ok(SqliteStore {
            jobs: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues `op` for the writer; resolves with its result once its batch committed.
    fn call<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Db) -> StoreResult<T> + Send + 'static,
    ) -> BoxFuture<'static, StoreResult<T>> {
        self.call_isolated(Isolation::Savepoint, op)
    }

    fn call_isolated<T: Send + 'static>(
        &self,
        isolation: Isolation,
        op: impl FnOnce(&Db) -> StoreResult<T> + Send + 'static,
    ) -> BoxFuture<'static, StoreResult<T>> {
        let (reply, result) = oneshot::channel();
        let sent = self.submit(isolation, op, move |outcome| {
            let _ = reply.send(outcome);
        });
        async move {
            if !sent {
                return Err(StoreError::Backend("store closed".into()));
            }
            result
                .await
                .unwrap_or_else(|_| Err(StoreError::Backend("store failed".into())))
        }
        .boxed()
    }

    /// Queues `op`; `done` gets its result on the writer thread once its batch
    /// committed. `false` when the store is closed (`done` is then never called).
    fn submit<T: Send + 'static>(
        &self,
        isolation: Isolation,
        op: impl FnOnce(&Db) -> StoreResult<T> + Send + 'static,
        done: impl FnOnce(StoreResult<T>) + Send + 'static,
    ) -> bool {
        let work: Work = Box::new(move |conn, poisoned| {
            let outcome = match (conn, isolation) {
                (Some(conn), Isolation::Savepoint) => in_savepoint(conn, op),
                (Some(conn), Isolation::Batch) => {
                    let outcome = guarded(|| op(conn));
                    *poisoned |= matches!(outcome, Err(StoreError::Backend(_)));
                    outcome
                }
                (None, _) => Err(StoreError::Backend("cannot begin a transaction".into())),
            };
            Box::new(move |commit| done(commit.map_err(StoreError::Backend).and(outcome)))
        });
        self.jobs
            .lock()
            .ok()
            .and_then(|jobs| jobs.as_ref().map(|tx| tx.send(work).is_ok()))
            .unwrap_or(false)
    }
}

fn migrate(conn: &Connection) -> StoreResult<()> {
    let version: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        conn.execute_batch(&format!(
            "BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;",
            i + 1
        ))
        .map_err(backend)?;
    }
    Ok(())
}

/// Runs `op` in a savepoint so that a failed operation leaves no partial writes in
/// its batch. A panic counts as a failure.
fn in_savepoint<T>(db: &Db, op: impl FnOnce(&Db) -> StoreResult<T>) -> StoreResult<T> {
    run(db, "SAVEPOINT op")?;
    let outcome = guarded(|| op(db));
    if outcome.is_err() {
        db.forget_all();
        run(db, "ROLLBACK TO op")?;
    }
    run(db, "RELEASE op")?;
    outcome
}

/// Runs a parameterless statement, prepared once per connection.
fn run(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut st| st.execute([]))
        .map(drop)
        .map_err(backend)
}

/// Runs `op`, turning a panic into a failure.
fn guarded<T>(op: impl FnOnce() -> StoreResult<T>) -> StoreResult<T> {
    catch_unwind(AssertUnwindSafe(op))
        .unwrap_or_else(|_| Err(StoreError::Backend("store operation panicked".into())))
}

fn writer_loop(conn: Db, jobs: mpsc::Receiver<Work>) {
    while let Ok(first) = jobs.recv() {
        let batch: Vec<Work> = std::iter::once(first)
            .chain(jobs.try_iter().take(MAX_BATCH - 1))
            .collect();
        let begun = run(&conn, "BEGIN IMMEDIATE");
        let target = begun.is_ok().then_some(&conn);
        let mut poisoned = false;
        let done: Vec<Done> = batch
            .into_iter()
            .map(|work| work(target, &mut poisoned))
            .collect();
        let commit = match begun {
            Ok(()) if poisoned => Err("an operation failed; its batch was rolled back".into()),
            Ok(()) => run(&conn, "COMMIT").map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
        .inspect_err(|e| {
            tracing::error!(error = %e, "store commit failed");
            conn.forget_all();
            let _ = conn.execute_batch("ROLLBACK");
        });
        for d in done {
            d(commit.clone());
        }
    }
    if let Err((_, e)) = conn.conn.close() {
        tracing::error!(error = %e, "closing the store failed");
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn from_json<T: serde::de::DeserializeOwned + Default>(s: Option<String>) -> T {
    s.and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

const CONV_COLUMNS: &str =
    r#""objectId", c, m, mu, name, attr, tr, sys, "unique", lm, "createdAt", "updatedAt", extra"#;

fn conv_from_row(r: &Row<'_>) -> rusqlite::Result<Conversation> {
    Ok(Conversation {
        id: r.get(0)?,
        creator: r.get(1)?,
        members: from_json(r.get(2)?),
        muted: r
            .get::<_, Option<String>>(3)?
            .and_then(|s| serde_json::from_str(&s).ok()),
        name: r.get(4)?,
        attr: r
            .get::<_, Option<String>>(5)?
            .and_then(|s| serde_json::from_str(&s).ok()),
        transient: r.get(6)?,
        system: r.get(7)?,
        unique: r.get(8)?,
        last_message_at: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
        extra: from_json::<Map<String, Value>>(r.get(12)?),
    })
}

fn load_conv(db: &Db, cid: &str) -> StoreResult<Option<Conversation>> {
    Ok(load_recent(db, cid)?.map(|r| r.conv))
}

/// A conversation and its next `seq` if known, remembering what it reads.
fn load_recent(db: &Db, cid: &str) -> StoreResult<Option<Recent>> {
    if let Some(recent) = db.recent(cid) {
        return Ok(Some(recent));
    }
    let conv = db
        .prepare_cached(&format!(
            r#"SELECT {CONV_COLUMNS} FROM conversations WHERE "objectId" = ?1"#
        ))
        .and_then(|mut st| st.query_row([cid], conv_from_row).optional())
        .map_err(backend)?;
    Ok(conv.map(|conv| {
        let recent = Recent {
            conv,
            next_seq: None,
        };
        db.remember(recent.clone());
        recent
    }))
}

fn save_conv(db: &Db, conv: &Conversation, unique_key: Option<&str>) -> StoreResult<()> {
    db.forget(&conv.id);
    let conn: &Connection = db;
    conn.prepare_cached(&format!(
        r#"INSERT OR REPLACE INTO conversations ({CONV_COLUMNS}, unique_key)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"#
    ))
    .and_then(|mut st| {
        st.execute(params![
            conv.id,
            conv.creator,
            to_json(&conv.members),
            conv.muted.as_ref().map(to_json),
            conv.name,
            conv.attr.as_ref().map(to_json),
            conv.transient,
            conv.system,
            conv.unique,
            conv.last_message_at,
            conv.created_at,
            conv.updated_at,
            to_json(&conv.extra),
            unique_key,
        ])
    })
    .map(drop)
    .map_err(backend)
}

/// Applies a membership change to the `members` index table.
fn save_members(
    conn: &Connection,
    cid: &str,
    added: &[String],
    removed: &[String],
) -> StoreResult<()> {
    let run = || -> rusqlite::Result<()> {
        let mut ins =
            conn.prepare_cached("INSERT OR IGNORE INTO members (client_id, cid) VALUES (?1, ?2)")?;
        for id in added {
            ins.execute(params![id, cid])?;
        }
        let mut del =
            conn.prepare_cached("DELETE FROM members WHERE client_id = ?1 AND cid = ?2")?;
        for id in removed {
            del.execute(params![id, cid])?;
        }
        Ok(())
    };
    run().map_err(backend)
}

/// The key that identifies a unique conversation: its sorted member set.
fn unique_key(members: &[String]) -> String {
    let mut sorted: Vec<&str> = members.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    to_json(&sorted)
}

fn create(conn: &Db, new: NewConversation) -> StoreResult<(Conversation, bool)> {
    let key = (new.unique && !new.transient).then(|| unique_key(&new.members));
    if let Some(key) = &key {
        let existing: Option<String> = conn
            .prepare_cached(r#"SELECT "objectId" FROM conversations WHERE unique_key = ?1 AND "unique" = 1 LIMIT 1"#)
            .and_then(|mut st| st.query_row([key], |r| r.get(0)).optional())
            .map_err(backend)?;
        if let Some(conv) = existing
            .map(|cid| load_conv(conn, &cid))
            .transpose()?
            .flatten()
        {
            return Ok((conv, false));
        }
    }
    let conv = Conversation {
        id: crate::ids::object_id(new.now),
        creator: new.creator,
        members: if new.transient {
            Vec::new()
        } else {
            new.members
        },
        muted: None,
        name: new.name,
        attr: new.attr,
        transient: new.transient,
        system: false,
        unique: key.is_some(),
        last_message_at: None,
        created_at: new.now,
        updated_at: new.now,
        extra: new.extra,
    };
    save_conv(conn, &conv, key.as_deref())?;
    save_members(conn, &conv.id, &conv.members, &[])?;
    Ok((conv, true))
}

fn change_members(
    conn: &Db,
    cid: &str,
    ids: &[String],
    add: bool,
    max_members: usize,
    now: i64,
) -> StoreResult<MembershipChange> {
    let mut conv = load_conv(conn, cid)?.ok_or(StoreError::NotFound)?;
    let mut changed: Vec<String> = Vec::new();
    for id in ids {
        let present = conv.members.contains(id);
        if present != add && !changed.contains(id) {
            changed.push(id.clone());
        }
    }
    if add {
        if conv.members.len() + changed.len() > max_members {
            return Err(StoreError::Full);
        }
        conv.members.extend(changed.iter().cloned());
    } else {
        conv.members.retain(|m| !changed.contains(m));
    }
    if !changed.is_empty() {
        conv.updated_at = now;
        // A unique conversation is found by its current member set.
        let key = conv.unique.then(|| unique_key(&conv.members));
        conn.forget(cid);
        conn.prepare_cached(
            r#"UPDATE conversations SET m = ?1, "updatedAt" = ?2, unique_key = ?3 WHERE "objectId" = ?4"#,
        )
        .and_then(|mut st| st.execute(params![to_json(&conv.members), now, key, cid]))
        .map_err(backend)?;
        let (added, removed) = if add {
            (&changed[..], &[][..])
        } else {
            (&[][..], &changed[..])
        };
        save_members(conn, cid, added, removed)?;
    }
    Ok(MembershipChange {
        changed,
        members: conv.members,
    })
}

/// Deepest nesting of a stored field. Well below serde_json's read limit (128), so
/// that whatever an update writes can be read back, and `set_path` recursion stays
/// shallow whatever a client sends.
const MAX_NESTING: usize = 64;

/// Levels of arrays and objects in `value` (0 for a scalar), without recursion.
fn nesting(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1)];
    while let Some((v, depth)) = stack.pop() {
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|c| (c, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|c| (c, depth + 1))),
            _ => continue,
        }
        deepest = deepest.max(depth);
    }
    deepest
}

/// Sets `value` at a dot `path` of `root`, creating objects on the way.
fn set_path(root: &mut Map<String, Value>, path: &[&str], value: Value) -> Result<(), String> {
    match path {
        [] => Err("empty path".into()),
        [last] => {
            root.insert((*last).to_owned(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let slot = root
                .entry((*first).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            match slot {
                Value::Object(inner) => set_path(inner, rest, value),
                _ => Err("not an object".into()),
            }
        }
    }
}

fn update(
    conn: &Db,
    cid: &str,
    actor: &str,
    changes: Vec<(String, Value)>,
    now: i64,
) -> StoreResult<i64> {
    let mut conv = load_conv(conn, cid)?.ok_or(StoreError::NotFound)?;
    if !conv.transient && !conv.members.iter().any(|m| m == actor) {
        return Err(StoreError::NotMember);
    }
    let mut doc = conv.extra.clone();
    if let Some(name) = conv.name.take() {
        doc.insert("name".into(), Value::String(name));
    }
    if let Some(attr) = conv.attr.take() {
        doc.insert("attr".into(), attr);
    }
    for (path, value) in changes {
        let parts: Vec<&str> = path.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) || super::RESERVED_FIELDS.contains(&parts[0]) {
            return Err(StoreError::InvalidUpdate(format!("cannot set {path}")));
        }
        if parts.len() + nesting(&value) > MAX_NESTING {
            return Err(StoreError::InvalidUpdate(format!(
                "more than {MAX_NESTING} levels of nesting"
            )));
        }
        set_path(&mut doc, &parts, value).map_err(StoreError::InvalidUpdate)?;
    }
    conv.name = match doc.remove("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(StoreError::InvalidUpdate("name must be a string".into())),
    };
    conv.attr = doc.remove("attr");
    conv.extra = doc;
    conv.updated_at = now;
    let key = conv.unique.then(|| unique_key(&conv.members));
    save_conv(conn, &conv, key.as_deref())?;
    Ok(now)
}

fn last_message(conn: &Connection, cid: &str) -> StoreResult<Option<Message>> {
    conn.prepare_cached(&format!(
        "{MSG_SELECT} WHERE cid = ?1 ORDER BY timestamp DESC, seq DESC LIMIT 1"
    ))
    .and_then(|mut st| st.query_row([cid], msg_from_row).optional())
    .map_err(backend)
}

fn query(conn: &Db, q: Query) -> StoreResult<Vec<QueryHit>> {
    let candidates: Vec<Conversation> = if let Some(ids) = q.object_ids() {
        ids.iter()
            .map(|id| load_conv(conn, id))
            .collect::<StoreResult<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect()
    } else {
        let (sql, arg) = match q.member() {
            Some(m) => (
                format!(
                    r#"SELECT {CONV_COLUMNS} FROM conversations WHERE "objectId" IN (SELECT cid FROM members WHERE client_id = ?1)"#
                ),
                Some(m),
            ),
            None => (format!("SELECT {CONV_COLUMNS} FROM conversations"), None),
        };
        let mut st = conn.prepare_cached(&sql).map_err(backend)?;
        let rows = match &arg {
            Some(m) => st.query_map([m], conv_from_row),
            None => st.query_map([], conv_from_row),
        };
        rows.and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(backend)?
    };
    let mut hits: Vec<(Value, Conversation)> = candidates
        .into_iter()
        .map(|c| (c.match_doc(), c))
        .filter(|(doc, _)| q.matches(doc))
        .collect();
    hits.sort_by(|(a, _), (b, _)| q.compare(a, b));
    hits.into_iter()
        .skip(q.skip)
        .take(q.limit)
        .map(|(_, c)| {
            let last = if q.with_last_message {
                last_message(conn, &c.id)?
            } else {
                None
            };
            Ok((c, last))
        })
        .collect()
}

/// The rowid is the commit number: messages are never deleted, so SQLite gives each
/// new row the greatest rowid so far plus one, in commit order.
const MSG_SELECT: &str =
    r#"SELECT cid, "msgId", "from", data, timestamp, seq, "ackAt", rowid FROM messages"#;

fn msg_from_row(r: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        cid: r.get(0)?,
        id: r.get(1)?,
        from: r.get(2)?,
        data: r.get(3)?,
        timestamp: r.get(4)?,
        seq: r.get(5)?,
        ack_at: r.get(6)?,
        commit: r.get(7)?,
    })
}

fn append(db: &Db, new: NewMessage) -> StoreResult<(Message, Conversation)> {
    let Recent { mut conv, next_seq } = load_recent(db, &new.cid)?.ok_or(StoreError::NotFound)?;
    if !conv.transient && !conv.members.contains(&new.from) {
        return Err(StoreError::NotMember);
    }
    let seq = match next_seq {
        Some(seq) => seq,
        None => db
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE cid = ?1")
            .and_then(|mut st| st.query_row([&new.cid], |r| r.get(0)))
            .map_err(backend)?,
    };
    // Never before the conversation's last message: (timestamp, seq) order, which
    // history follows, is then commit order even when senders race.
    let timestamp = conv
        .last_message_at
        .map_or(new.timestamp, |lm| lm.max(new.timestamp));
    let receipt = new.receipt && !conv.transient;
    db.prepare_cached(
        r#"INSERT INTO messages (cid, seq, "msgId", "from", data, timestamp, receipt) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"#,
    )
    .and_then(|mut st| st.execute(params![new.cid, seq, new.id, new.from, new.data, timestamp, receipt]))
    .map_err(backend)?;
    let commit = db.last_insert_rowid();
    conv.last_message_at = Some(timestamp);
    db.prepare_cached(r#"UPDATE conversations SET lm = ?1 WHERE "objectId" = ?2"#)
        .and_then(|mut st| st.execute(params![timestamp, new.cid]))
        .map_err(backend)?;
    if !conv.transient {
        let mut queue = db
            .prepare_cached(
                "INSERT OR IGNORE INTO offline (client_id, cid, seq) VALUES (?1, ?2, ?3)",
            )
            .map_err(backend)?;
        for member in conv.members.iter().filter(|m| **m != new.from) {
            queue
                .execute(params![member, new.cid, seq])
                .map_err(backend)?;
        }
    }
    db.remember(Recent {
        conv: conv.clone(),
        next_seq: Some(seq + 1),
    });
    let msg = Message {
        cid: new.cid,
        id: new.id,
        from: new.from,
        data: new.data,
        timestamp,
        seq,
        commit,
        ack_at: None,
    };
    Ok((msg, conv))
}

fn ack(
    conn: &Connection,
    client: &str,
    cid: &str,
    mid: &str,
    now: i64,
) -> StoreResult<Option<Receipt>> {
    let found: Option<(i64, String, bool)> = conn
        .prepare_cached(
            r#"SELECT seq, "from", receipt FROM messages WHERE "msgId" = ?1 AND cid = ?2"#,
        )
        .and_then(|mut st| {
            st.query_row(params![mid, cid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .map_err(backend)?;
    let Some((seq, from, receipt)) = found else {
        return Ok(None);
    };
    let first = conn
        .prepare_cached("DELETE FROM offline WHERE client_id = ?1 AND cid = ?2 AND seq = ?3")
        .and_then(|mut st| st.execute(params![client, cid, seq]))
        .map_err(backend)?
        > 0;
    if !first {
        return Ok(None);
    }
    conn.prepare_cached(
        r#"UPDATE messages SET "ackAt" = ?1 WHERE cid = ?2 AND seq = ?3 AND "ackAt" IS NULL"#,
    )
    .and_then(|mut st| st.execute(params![now, cid, seq]))
    .map_err(backend)?;
    Ok(receipt.then_some(Receipt { to: from, at: now }))
}

/// A bound as a (timestamp, seq) pair; `None` when it does not restrict.
fn resolve_bound(
    conn: &Connection,
    cid: &str,
    bound: &Bound,
    upper: bool,
) -> StoreResult<Option<(i64, i64)>> {
    let by_mid: Option<(i64, i64)> = match &bound.mid {
        Some(mid) => conn
            .prepare_cached(
                r#"SELECT timestamp, seq FROM messages WHERE cid = ?1 AND "msgId" = ?2"#,
            )
            .and_then(|mut st| {
                st.query_row(params![cid, mid], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(backend)?,
        None => None,
    };
    Ok(match (bound.timestamp, by_mid) {
        (Some(t), Some((_, seq))) => Some((t, seq)),
        (None, Some(pair)) => Some(pair),
        // A time alone excludes that whole millisecond.
        (Some(t), None) => Some((t, if upper { i64::MIN } else { i64::MAX })),
        (None, None) => None,
    })
}

fn logs(conn: &Db, q: LogQuery) -> StoreResult<Vec<Message>> {
    let conv = load_conv(conn, &q.cid)?.ok_or(StoreError::NotFound)?;
    if !conv.transient && !conv.members.contains(&q.requester) {
        return Err(StoreError::NotMember);
    }
    if q.limit == 0 {
        return Ok(Vec::new());
    }
    let (bt, bs) = resolve_bound(conn, &q.cid, &q.before, true)?.unwrap_or((i64::MAX, i64::MAX));
    let (at, as_) = resolve_bound(conn, &q.cid, &q.after, false)?.unwrap_or((i64::MIN, i64::MIN));
    let mut st = conn
        .prepare_cached(&format!(
            "{MSG_SELECT} WHERE cid = ?1 AND (timestamp, seq) < (?2, ?3) AND (timestamp, seq) > (?4, ?5)
             ORDER BY timestamp DESC, seq DESC LIMIT ?6"
        ))
        .map_err(backend)?;
    let mut out = st
        .query_map(
            params![q.cid, bt, bs, at, as_, q.limit as i64],
            msg_from_row,
        )
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(backend)?;
    out.reverse();
    Ok(out)
}

fn offline(
    conn: &Connection,
    client: &str,
    per_conversation: usize,
    conversations: usize,
) -> StoreResult<Offline> {
    let cap = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let horizon: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(rowid), 0) FROM messages")
        .and_then(|mut st| st.query_row([], |r| r.get(0)))
        .map_err(backend)?;
    let convs: Vec<String> = conn
        .prepare_cached(
            "SELECT q.cid FROM offline q JOIN messages m ON m.cid = q.cid AND m.seq = q.seq
             WHERE q.client_id = ?1 GROUP BY q.cid ORDER BY MAX(m.timestamp) DESC, MAX(m.rowid) DESC LIMIT ?2",
        )
        .and_then(|mut st| {
            st.query_map(params![client, cap(conversations)], |r| r.get(0))
                .and_then(|rows| rows.collect())
        })
        .map_err(backend)?;
    // Entries beyond the caps stay queued: a later login pushes them.
    let mut out: Vec<Message> = Vec::new();
    for cid in convs {
        let msgs: Vec<Message> = conn
            .prepare_cached(&format!(
                "{MSG_SELECT} WHERE cid = ?1 AND seq IN (SELECT seq FROM offline WHERE client_id = ?2 AND cid = ?1)
                 ORDER BY timestamp DESC, seq DESC LIMIT ?3"
            ))
            .and_then(|mut st| {
                st.query_map(params![cid, client, cap(per_conversation)], msg_from_row)
                    .and_then(|rows| rows.collect())
            })
            .map_err(backend)?;
        out.extend(msgs);
    }
    // (timestamp, commit) orders messages across conversations as they were committed.
    out.sort_by_key(|m| (m.timestamp, m.commit));
    Ok(Offline {
        messages: out,
        horizon,
    })
}

impl Store for SqliteStore {
    fn create_conversation(
        &self,
        new: NewConversation,
    ) -> BoxFuture<'static, StoreResult<(Conversation, bool)>> {
        self.call(move |conn| create(conn, new))
    }

    fn conversation(&self, cid: String) -> BoxFuture<'static, StoreResult<Option<Conversation>>> {
        self.call(move |conn| load_conv(conn, &cid))
    }

    fn add_members(
        &self,
        cid: String,
        ids: Vec<String>,
        max_members: usize,
        now: i64,
    ) -> BoxFuture<'static, StoreResult<MembershipChange>> {
        self.call(move |conn| change_members(conn, &cid, &ids, true, max_members, now))
    }

    fn remove_members(
        &self,
        cid: String,
        ids: Vec<String>,
        now: i64,
    ) -> BoxFuture<'static, StoreResult<MembershipChange>> {
        self.call(move |conn| change_members(conn, &cid, &ids, false, usize::MAX, now))
    }

    fn update_conversation(
        &self,
        cid: String,
        actor: String,
        changes: Vec<(String, Value)>,
        now: i64,
    ) -> BoxFuture<'static, StoreResult<i64>> {
        self.call(move |conn| update(conn, &cid, &actor, changes, now))
    }

    fn query(&self, q: Query) -> BoxFuture<'static, StoreResult<Vec<QueryHit>>> {
        self.call(move |conn| query(conn, q))
    }

    fn append_message(
        &self,
        msg: NewMessage,
    ) -> BoxFuture<'static, StoreResult<(Message, Conversation)>> {
        // Refuses (not found, not a member) before writing anything.
        self.call_isolated(Isolation::Batch, move |conn| append(conn, msg))
    }

    fn ack(&self, client: String, cid: String, mid: String, now: i64, receipt: SendReceipt) {
        // Fails only through the backend; one ack per delivery makes it the busiest
        // operation, so it costs no savepoint and no future.
        let op = move |conn: &Db| ack(conn, &client, &cid, &mid, now);
        self.submit(Isolation::Batch, op, |outcome| match outcome {
            Ok(Some(due)) => receipt(due),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "recording an ack failed"),
        });
    }

    fn logs(&self, q: LogQuery) -> BoxFuture<'static, StoreResult<Vec<Message>>> {
        self.call(move |conn| logs(conn, q))
    }

    fn offline(
        &self,
        client: String,
        per_conversation: usize,
        conversations: usize,
    ) -> BoxFuture<'static, StoreResult<Offline>> {
        self.call(move |conn| offline(conn, &client, per_conversation, conversations))
    }

    fn close(&self) -> BoxFuture<'static, ()> {
        // Dropping the sender ends the writer loop after the batches already queued.
        drop(self.jobs.lock().ok().and_then(|mut jobs| jobs.take()));
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        async move {
            if let Some(thread) = thread {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
        }
        .boxed()
    }
}
