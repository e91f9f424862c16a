//! The writer thread: owns the one writing connection and commits every operation
//! queued while the previous batch committed in one transaction (group commit).
//!
//! Per batch, after the operations: the recipient acks queued since the last batch
//! move the member cursors they touch (in memory), and each changed cursor and
//! conversation head is written once. Results are handed back, and the committed
//! messages streamed, only after `COMMIT`. Any failure of the backend fails the whole
//! batch: it is rolled back and everything the writer remembers is forgotten.

mod delete;
mod import;
mod patch;

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use lru::LruCache;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::mpsc;

use super::rows::{self, conv_from_row, message_key, ConvRow, CONV_COLUMNS};
use crate::domain::{Conversation, Extras, NewMessage, Refusal, StoredMessage};
use crate::store::acks::AckQueue;
use crate::store::cursor::{Acked, Cursor};
use crate::store::sequence::next_message;
use crate::store::{
    backend, Ack, Admit, Change, Commit, ReceiptDue, StoreError, StoreResult, StoreStats,
};
use crate::time::now_ms;

/// Most operations committed in one transaction.
const MAX_BATCH: usize = 1024;
/// Conversations the writer keeps in memory (least recently used leave first).
const CONVERSATIONS: usize = 16_384;
/// Member cursors the writer keeps in memory.
const CURSORS: usize = 131_072;

/// Called with the outcome of an operation's batch, after it committed or failed.
pub type Done = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// An operation, run inside a batch's transaction.
pub type Job = Box<dyn FnOnce(&mut Writer) -> Done + Send>;

/// A conversation as the writer knows it.
struct Entry {
    num: i64,
    conv: Conversation,
    /// `conv.members`, shared with every committed message.
    members: Arc<[String]>,
    last_seq: i64,
    /// The seqs that had their first recipient ack while in memory, so that `ackAt`
    /// costs one write per message, not one per recipient.
    first_acks: Cursor,
}

/// The writer's connection and memory.
pub struct Writer {
    conn: Connection,
    convs: LruCache<Arc<str>, Entry>,
    cursors: LruCache<(i64, Arc<str>), Cursor>,
    acks: Arc<AckQueue>,
    commits: mpsc::Sender<Commit>,
    stats: Arc<StoreStats>,
    /// Raised by the checkpointer: copy the rest of the WAL now, so that it restarts.
    catch_up: Arc<AtomicBool>,
    batch: Batch,
}

/// What the batch in progress changed, to write once and stream after commit.
#[derive(Default)]
struct Batch {
    failed: bool,
    /// Conversations whose `lm`/`last_seq` changed.
    heads: HashMap<Arc<str>, (i64, Option<i64>, i64)>,
    /// Cursors that moved; the flag tells whether their runs changed.
    cursors: HashMap<(i64, Arc<str>), bool>,
    ack_at: Vec<(i64, i64)>,
    commit: Commit,
}

impl Writer {
    pub fn new(
        conn: Connection,
        acks: Arc<AckQueue>,
        commits: mpsc::Sender<Commit>,
        stats: Arc<StoreStats>,
        catch_up: Arc<AtomicBool>,
    ) -> Writer {
        let cap = |n| NonZeroUsize::new(n).expect("non-zero");
        Writer {
            conn,
            convs: LruCache::new(cap(CONVERSATIONS)),
            cursors: LruCache::new(cap(CURSORS)),
            acks,
            commits,
            stats,
            catch_up,
            batch: Batch::default(),
        }
    }

    /// Runs batches until every sender is gone, then closes the connection.
    pub fn run(mut self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        while let Some(first) = jobs.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.run_batch(batch);
            if self.catch_up.swap(false, Ordering::AcqRel) {
                if let Err(e) = self.conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
                    tracing::warn!(error = %e, "catching the checkpoint up failed");
                }
            }
        }
        // Acks that arrived after the last operation.
        if !self.acks.is_empty() {
            self.run_batch(Vec::new());
        }
        if let Err((_, e)) = self.conn.close() {
            tracing::error!(error = %e, "closing the store failed");
        }
    }

    fn run_batch(&mut self, jobs: Vec<Job>) {
        self.batch = Batch::default();
        if let Err(e) = self.exec("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "store: cannot begin a batch");
            self.batch.failed = true;
        }
        let count = jobs.len() as u64;
        let done: Vec<Done> = jobs.into_iter().map(|job| self.run_job(job)).collect();
        if !self.batch.failed {
            let acks = self.acks.take();
            StoreStats::add(&self.stats.acks, acks.len() as u64);
            let applied = self.apply_acks(acks).and_then(|()| self.write_changes());
            if let Err(e) = applied {
                tracing::error!(error = %e, "store: writing a batch failed");
                self.batch.failed = true;
            }
        }
        let outcome = if self.batch.failed {
            Err(backend("the batch could not be committed"))
        } else {
            self.exec("COMMIT")
        };
        if outcome.is_err() {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.convs.clear();
            self.cursors.clear();
        }
        for d in done {
            if catch_unwind(AssertUnwindSafe(|| d(outcome.clone()))).is_err() {
                tracing::error!("store: a completion panicked");
            }
        }
        StoreStats::add(&self.stats.commits, 1);
        StoreStats::add(&self.stats.operations, count);
        let commit = std::mem::take(&mut self.batch.commit);
        if outcome.is_ok() && !(commit.messages.is_empty() && commit.receipts.is_empty()) {
            // Blocks while the dispatcher is behind: backpressure on every writer.
            let _ = self.commits.blocking_send(commit);
        }
    }

    /// Runs one operation; a panic fails it and its batch.
    fn run_job(&mut self, job: Job) -> Done {
        if self.batch.failed {
            // Dropped unrun: its caller's reply channel closes, which is its failure.
            drop(job);
            return Box::new(|_| {});
        }
        match catch_unwind(AssertUnwindSafe(|| job(self))) {
            Ok(done) => done,
            Err(_) => {
                tracing::error!("store: an operation panicked");
                self.batch.failed = true;
                Box::new(|_| {})
            }
        }
    }

    fn exec(&self, sql: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut st| st.execute([]))
            .map(drop)
            .map_err(backend)
    }

    /// Marks the batch failed when `r` is a backend error.
    pub fn check<T>(&mut self, r: rusqlite::Result<T>) -> StoreResult<T> {
        r.map_err(|e| {
            self.batch.failed = true;
            backend(e)
        })
    }

    /// The conversation `cid`, read once and then kept.
    fn entry(&mut self, cid: &str) -> StoreResult<Option<&mut Entry>> {
        if !self.convs.contains(cid) {
            let found = self
                .conn
                .prepare_cached(&format!(
                    r#"SELECT {CONV_COLUMNS} FROM conversations WHERE "objectId" = ?1"#
                ))
                .and_then(|mut st| st.query_row([cid], conv_from_row).optional());
            let Some(row) = self.check(found)? else {
                return Ok(None);
            };
            self.remember(row)?;
        }
        Ok(self.convs.get_mut(cid))
    }

    /// Caches a conversation row; an evicted entry with an unwritten head is written.
    fn remember(&mut self, row: ConvRow) -> StoreResult<()> {
        let ConvRow {
            num,
            conv,
            last_seq,
        } = row;
        let key: Arc<str> = Arc::from(conv.id.as_str());
        let entry = Entry {
            num,
            members: Arc::from(conv.members.clone()),
            conv,
            last_seq,
            first_acks: Cursor::new(0),
        };
        if let Some((old, _)) = self.convs.push(key.clone(), entry) {
            if old != key {
                if let Some(head) = self.batch.heads.remove(&old) {
                    self.write_head(head)?;
                }
            }
        }
        Ok(())
    }

    /// The cursor of `client` in conversation `num`, or `None` for a non-member.
    fn cursor(&mut self, num: i64, client: &Arc<str>) -> StoreResult<Option<&mut Cursor>> {
        let key = (num, client.clone());
        if !self.cursors.contains(&key) {
            let acked = self
                .conn
                .prepare_cached("SELECT acked FROM members WHERE conv = ?1 AND client_id = ?2")
                .and_then(|mut st| {
                    st.query_row(params![num, &**client], |r| r.get::<_, i64>(0))
                        .optional()
                });
            let Some(acked) = self.check(acked)? else {
                return Ok(None);
            };
            let ranges = self
                .conn
                .prepare_cached(
                    "SELECT lo, hi FROM acked_ranges WHERE conv = ?1 AND client_id = ?2 ORDER BY lo",
                )
                .and_then(|mut st| {
                    st.query_map(params![num, &**client], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<Vec<(i64, i64)>>>()
                });
            let ranges = self.check(ranges)?;
            if let Some((old, cursor)) = self
                .cursors
                .push(key.clone(), Cursor::with_ranges(acked, ranges))
            {
                if old != key {
                    if let Some(ranges) = self.batch.cursors.remove(&old) {
                        self.write_cursor(&old, &cursor, ranges)?;
                    }
                }
            }
        }
        Ok(self.cursors.get_mut(&key))
    }

    /// Records that `client` has message `seq` of conversation `num`.
    fn ack_seq(&mut self, num: i64, client: &Arc<str>, seq: i64) -> StoreResult<bool> {
        let Some(cursor) = self.cursor(num, client)? else {
            return Ok(false);
        };
        match cursor.ack(seq) {
            Acked::Before => Ok(false),
            Acked::Now { ranges } => {
                let flag = self.batch.cursors.entry((num, client.clone())).or_default();
                *flag |= ranges;
                Ok(true)
            }
        }
    }

    fn apply_acks(&mut self, acks: Vec<Ack>) -> StoreResult<()> {
        let now = now_ms();
        for ack in acks {
            let Some(entry) = self.entry(&ack.cid)? else {
                continue;
            };
            if entry.conv.transient {
                continue;
            }
            let num = entry.num;
            if !self.ack_seq(num, &ack.client, ack.seq)? {
                continue;
            }
            let first = self
                .convs
                .get_mut(&*ack.cid)
                .is_none_or(|e| e.first_acks.ack(ack.seq) != Acked::Before);
            if first {
                self.batch.ack_at.push((message_key(num, ack.seq), now));
            }
            if let Some((mid, from)) = ack.receipt {
                self.batch.commit.receipts.push(ReceiptDue {
                    to: from,
                    cid: ack.cid.to_string(),
                    mid,
                    at: now,
                });
            }
        }
        Ok(())
    }

    /// Writes every head and cursor the batch changed, and the `ackAt`s (set once:
    /// the first recipient ack of a message).
    fn write_changes(&mut self) -> StoreResult<()> {
        for (_, head) in std::mem::take(&mut self.batch.heads) {
            self.write_head(head)?;
        }
        for (key, ranges) in std::mem::take(&mut self.batch.cursors) {
            if let Some(cursor) = self.cursors.peek(&key).cloned() {
                self.write_cursor(&key, &cursor, ranges)?;
            }
        }
        for (key, at) in std::mem::take(&mut self.batch.ack_at) {
            let r = self
                .conn
                .prepare_cached(
                    r#"UPDATE messages SET "ackAt" = ?2 WHERE key = ?1 AND "ackAt" IS NULL"#,
                )
                .and_then(|mut st| st.execute(params![key, at]));
            self.check(r)?;
        }
        Ok(())
    }

    fn write_head(&mut self, (num, lm, last_seq): (i64, Option<i64>, i64)) -> StoreResult<()> {
        let r = self
            .conn
            .prepare_cached("UPDATE conversations SET lm = ?2, last_seq = ?3 WHERE num = ?1")
            .and_then(|mut st| st.execute(params![num, lm, last_seq]));
        self.check(r).map(drop)
    }

    fn write_cursor(
        &mut self,
        (num, client): &(i64, Arc<str>),
        cursor: &Cursor,
        ranges: bool,
    ) -> StoreResult<()> {
        let conn = &self.conn;
        let write = || -> rusqlite::Result<()> {
            conn.prepare_cached(
                "UPDATE members SET acked = ?3 WHERE conv = ?1 AND client_id = ?2",
            )?
            .execute(params![num, &**client, cursor.acked()])?;
            if ranges {
                conn.prepare_cached("DELETE FROM acked_ranges WHERE conv = ?1 AND client_id = ?2")?
                    .execute(params![num, &**client])?;
                let mut insert = conn.prepare_cached(
                    "INSERT INTO acked_ranges (conv, client_id, lo, hi) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for (lo, hi) in cursor.ranges() {
                    insert.execute(params![num, &**client, lo, hi])?;
                }
            }
            Ok(())
        };
        let r = write();
        self.check(r)
    }

    /// `create`: inserts `conv`, or finds the unique conversation with its key.
    pub fn create(&mut self, conv: Conversation) -> StoreResult<(Conversation, bool)> {
        if let Some(key) = &conv.unique_key {
            let found = self
                .conn
                .prepare_cached(
                    r#"SELECT "objectId" FROM conversations WHERE unique_key = ?1 AND "unique" = 1 LIMIT 1"#,
                )
                .and_then(|mut st| st.query_row([key], |r| r.get::<_, String>(0)).optional());
            if let Some(cid) = self.check(found)? {
                if let Some(entry) = self.entry(&cid)? {
                    return Ok((entry.conv.clone(), false));
                }
            }
        }
        self.insert_conversation(&conv)?;
        Ok((conv, true))
    }

    /// Inserts a new conversation: its row, its members' cursors at 0, its `attr`
    /// index, and its cache entry.
    fn insert_conversation(&mut self, conv: &Conversation) -> StoreResult<()> {
        let num = rows::insert_conv(&self.conn, conv);
        let num = self.check(num)?;
        self.add_member_rows(num, &conv.members, 0)?;
        let indexed = rows::index_attr(&self.conn, num, conv.attr.as_ref());
        self.check(indexed)?;
        self.remember(ConvRow {
            num,
            conv: conv.clone(),
            last_seq: 0,
        })
    }

    fn add_member_rows(&mut self, num: i64, ids: &[String], acked: i64) -> StoreResult<()> {
        let conn = &self.conn;
        let insert = || -> rusqlite::Result<()> {
            let mut st = conn.prepare_cached(
                "INSERT INTO members (conv, client_id, acked) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO UPDATE SET acked = excluded.acked",
            )?;
            for id in ids {
                st.execute(params![num, id, acked])?;
            }
            Ok(())
        };
        let r = insert();
        self.check(r)
    }

    /// `modify`: applies `change`; added members start at the last seq, removed
    /// members lose their cursor.
    pub fn modify(
        &mut self,
        cid: &str,
        change: Change,
    ) -> StoreResult<(Conversation, Vec<String>)> {
        let Some(entry) = self.entry(cid)? else {
            return Err(Refusal::NotFound.into());
        };
        let (num, last_seq, before) = (entry.num, entry.last_seq, entry.conv.clone());
        let mut conv = before.clone();
        let concerned = change(&mut conv)?;
        let (added, removed) = before.member_changes(&conv);
        self.add_member_rows(num, &added, last_seq)?;
        for id in added.iter().chain(&removed) {
            let client: Arc<str> = Arc::from(id.as_str());
            self.cursors.pop(&(num, client.clone()));
            self.batch.cursors.remove(&(num, client));
        }
        let conn = &self.conn;
        let delete = || -> rusqlite::Result<()> {
            for id in &removed {
                conn.prepare_cached("DELETE FROM members WHERE conv = ?1 AND client_id = ?2")?
                    .execute(params![num, id])?;
                conn.prepare_cached("DELETE FROM acked_ranges WHERE conv = ?1 AND client_id = ?2")?
                    .execute(params![num, id])?;
            }
            rows::update_conv(conn, num, &conv)?;
            if before.attr != conv.attr {
                rows::index_attr(conn, num, conv.attr.as_ref())?;
            }
            Ok(())
        };
        let r = delete();
        self.check(r)?;
        if let Some(entry) = self.convs.get_mut(cid) {
            entry.members = Arc::from(conv.members.clone());
            entry.conv = conv.clone();
        }
        Ok((conv, concerned))
    }

    /// `append`: stores the message with the conversation's next seq.
    pub fn append(&mut self, msg: NewMessage, admit: Admit) -> StoreResult<Arc<StoredMessage>> {
        let Some(entry) = self.entry(&msg.cid)? else {
            return Err(Refusal::NotFound.into());
        };
        admit(&entry.conv, &msg.from)?;
        let committed = next_message(msg, &entry.conv, entry.members.clone(), entry.last_seq)?;
        let (num, stored) = (entry.num, committed.msg.clone());
        let inserted = self
            .conn
            .prepare_cached(
                r#"INSERT INTO messages (key, "msgId", "from", data, timestamp, receipt, meta) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"#,
            )
            .and_then(|mut st| {
                st.execute(params![
                    message_key(num, stored.seq),
                    stored.id,
                    stored.from,
                    stored.data,
                    stored.timestamp,
                    stored.receipt,
                    Extras::to_meta(stored.extras.as_deref())
                ])
            });
        self.check(inserted)?;
        if let Some(entry) = self.convs.get_mut(&*stored.cid) {
            entry.last_seq = stored.seq;
            entry.conv.last_message_at = Some(stored.timestamp);
        }
        self.batch.heads.insert(
            stored.cid.clone(),
            (num, Some(stored.timestamp), stored.seq),
        );
        if !committed.room {
            // A sender has its own messages: its cursor moves past them.
            self.ack_seq(num, &Arc::from(stored.from.as_str()), stored.seq)?;
        }
        self.batch.commit.messages.push(committed);
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::domain::rules::{self, RecordLimits, StartRequest};

    fn writer() -> (Writer, mpsc::Receiver<Commit>) {
        let mut conn = Connection::open_in_memory().expect("open");
        super::super::schema::migrate(&mut conn).expect("migrate");
        let (tx, rx) = mpsc::channel(16);
        let writer = Writer::new(conn, Arc::default(), tx, Arc::default(), Arc::default());
        (writer, rx)
    }

    fn conv(n: usize) -> Conversation {
        let req = StartRequest {
            creator: "a".into(),
            creator_joins: true,
            invited: Vec::new(),
            attr: serde_json::Map::new(),
            transient: false,
            unique: false,
        };
        let limits = RecordLimits {
            max_members: 10,
            max_record_bytes: 1000,
        };
        rules::new_conversation(format!("c{n}"), req, limits, 0).expect("conv")
    }

    fn create(n: usize, done: Arc<Mutex<Vec<bool>>>) -> Job {
        Box::new(move |w: &mut Writer| {
            let created = w.create(conv(n)).is_ok();
            Box::new(move |commit| done.lock().expect("lock").push(created && commit.is_ok()))
        })
    }

    #[test]
    fn a_panicking_completion_leaves_the_writer_working() {
        let (mut w, _commits) = writer();
        let done = Arc::new(Mutex::new(Vec::new()));
        let panics: Job = Box::new(|_| Box::new(|_| panic!("a completion")));
        w.run_batch(vec![panics, create(1, done.clone())]);
        w.run_batch(vec![create(2, done.clone())]);
        assert_eq!(*done.lock().expect("lock"), [true, true]);
    }

    #[test]
    fn the_conversation_cache_evicts_one_at_a_time() {
        let (mut w, _commits) = writer();
        let done = Arc::new(Mutex::new(Vec::new()));
        let total = CONVERSATIONS + 100;
        for start in (0..total).step_by(MAX_BATCH) {
            let jobs = (start..total.min(start + MAX_BATCH))
                .map(|n| create(n, done.clone()))
                .collect();
            w.run_batch(jobs);
        }
        assert_eq!(done.lock().expect("lock").len(), total);
        // Full, not cleared: the least recently used left, the newest stayed.
        assert_eq!(w.convs.len(), CONVERSATIONS);
        assert!(w.convs.contains(&*format!("c{}", total - 1)));
        assert!(!w.convs.contains("c0"));
    }
}
