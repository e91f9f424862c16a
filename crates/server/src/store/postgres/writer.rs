//! The node's writer: one task on its own connection, which commits every operation
//! queued while the previous batch committed in one transaction (group commit).
//!
//! A batch first locks the rows of every conversation it touches, in id order (so
//! that writers of several nodes never deadlock), and reads their seq and members
//! under that lock: nothing is cached across batches, since other nodes write too.
//! Messages, conversation heads, cursors and `ackAt`s are written at the end with
//! one statement each. Results are handed back, and committed messages streamed,
//! only after `COMMIT`. Any failure fails the whole batch; a lost connection is
//! reopened by the next one.

mod import;
mod ops;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::Json;
use tokio_postgres::{Client, Config, NoTls};

use super::errors::{pg, unreachable};
use super::rows::{conv_from_row, ranges_from, ranges_value, ConvRow, CONV_COLUMNS};
use crate::domain::{Conversation, Extras, NewMessage, StoredMessage};
use crate::store::acks::AckQueue;
use crate::store::cursor::{Acked, Cursor};
use crate::store::{
    Ack, Admit, Change, Commit, Import, Imported, MessagePatch, ReceiptDue, StoreError,
    StoreResult, StoreStats,
};
use crate::time::now_ms;

/// Most operations committed in one transaction.
const MAX_BATCH: usize = 1024;
/// A batch that takes longer fails (its connection is dropped, which rolls it back).
const BATCH_TIMEOUT: Duration = Duration::from_secs(10);

/// An operation for the writer.
pub enum Op {
    Create(Conversation),
    Modify(String, Change),
    Append(NewMessage, Admit),
    Patch(MessagePatch),
    Delete(String),
    Import(Import),
    /// Nothing: resolves once the acks queued before it are committed.
    Settle,
}

/// What an operation returned.
pub enum Output {
    Created(Conversation, bool),
    Modified(Conversation, Vec<String>),
    Appended(Arc<StoredMessage>),
    Patched(i64),
    Deleted(bool),
    Imported(Imported),
    Settled,
}

pub struct Job {
    pub op: Op,
    pub reply: oneshot::Sender<StoreResult<Output>>,
}

/// The writer's connection settings and what it reports to.
pub struct Writer {
    config: Config,
    client: Option<Client>,
    acks: Arc<AckQueue>,
    commits: mpsc::Sender<Commit>,
    stats: Arc<StoreStats>,
}

/// A conversation locked by the batch.
struct Entry {
    num: i64,
    conv: Conversation,
    /// `conv.members`, shared with every committed message.
    members: Arc<[String]>,
    last_seq: i64,
    /// `lm` or `last_seq` changed.
    head: bool,
}

/// A member cursor read by the batch; `dirty` once it moved.
struct Slot {
    cursor: Cursor,
    dirty: bool,
}

/// One batch's transaction and what it changed, written at its end.
pub struct Tx<'a> {
    client: &'a Client,
    convs: HashMap<String, Entry>,
    /// `None`: not a member.
    cursors: HashMap<(i64, Arc<str>), Option<Slot>>,
    /// Messages to insert, by conversation number.
    messages: Vec<(i64, Arc<StoredMessage>)>,
    ack_at: HashSet<(i64, i64)>,
    commit: Commit,
}

impl Writer {
    pub fn new(
        config: Config,
        acks: Arc<AckQueue>,
        commits: mpsc::Sender<Commit>,
        stats: Arc<StoreStats>,
    ) -> Writer {
        Writer {
            config,
            client: None,
            acks,
            commits,
            stats,
        }
    }

    /// Runs batches until every sender is gone.
    pub async fn run(mut self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        while let Some(first) = jobs.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.run_batch(batch).await;
        }
        // Acks that arrived after the last operation.
        if !self.acks.is_empty() {
            self.run_batch(Vec::new()).await;
        }
    }

    /// The open connection, reconnecting when it was lost.
    async fn client(&mut self) -> StoreResult<&Client> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            let (client, connection) = self.config.connect(NoTls).await.map_err(pg)?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "PostgreSQL: the writer's connection failed");
                }
            });
            self.client = Some(client);
        }
        self.client
            .as_ref()
            .ok_or_else(|| unreachable("no connection"))
    }

    async fn run_batch(&mut self, jobs: Vec<Job>) {
        let acks = self.acks.take();
        let count = jobs.len() as u64;
        let (ops, replies): (Vec<Op>, Vec<_>) = jobs.into_iter().map(|j| (j.op, j.reply)).unzip();
        let run = async {
            let client = self.client().await?;
            run_transaction(client, ops, &acks).await
        };
        let outcome = match tokio::time::timeout(BATCH_TIMEOUT, run).await {
            Ok(outcome) => outcome,
            Err(_) => {
                // Dropping the connection makes PostgreSQL roll the batch back.
                self.client = None;
                Err(unreachable("a batch timed out"))
            }
        };
        StoreStats::add(&self.stats.commits, 1);
        StoreStats::add(&self.stats.operations, count);
        match outcome {
            Ok((outputs, commit)) => {
                StoreStats::add(&self.stats.acks, acks.len() as u64);
                for (reply, out) in replies.into_iter().zip(outputs) {
                    let _ = reply.send(out);
                }
                if !(commit.messages.is_empty() && commit.receipts.is_empty()) {
                    // Waits while the dispatcher is behind: backpressure on the writer.
                    let _ = self.commits.send(commit).await;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "store: a batch failed");
                if matches!(
                    e,
                    StoreError::Unavailable {
                        retryable: true,
                        ..
                    }
                ) {
                    // Nothing was applied: the acks wait for the next batch.
                    self.acks.push(acks);
                }
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// One batch: its operations, then the acks, in one transaction.
async fn run_transaction(
    client: &Client,
    ops: Vec<Op>,
    acks: &[Ack],
) -> StoreResult<(Vec<StoreResult<Output>>, Commit)> {
    client.batch_execute("BEGIN").await.map_err(pg)?;
    let begun = Tx::begin(client, Names::of(&ops, acks));
    let result = async {
        let mut tx = begun.await?;
        let mut outputs = Vec::with_capacity(ops.len());
        for op in ops {
            match tx.run(op).await {
                // A refusal fails its operation, a backend error the batch.
                Err(e @ StoreError::Unavailable { .. }) => return Err(e),
                out => outputs.push(out),
            }
        }
        tx.apply_acks(acks).await?;
        tx.write_changes().await?;
        client.batch_execute("COMMIT").await.map_err(pg)?;
        Ok((outputs, tx.commit))
    }
    .await;
    if result.is_err() && !client.is_closed() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    result
}

/// The conversations a batch names (sorted: locked in that order) and the members
/// whose cursors it moves. Collected before any await, since operations hold
/// closures that are not `Sync`.
struct Names {
    cids: Vec<String>,
    senders: Vec<(String, String)>,
}

impl Names {
    fn of(ops: &[Op], acks: &[Ack]) -> Names {
        let mut cids: Vec<String> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Modify(cid, _) | Op::Delete(cid) => Some(cid.clone()),
                Op::Append(m, _) => Some(m.cid.clone()),
                Op::Patch(p) => Some(p.cid.clone()),
                Op::Import(i) => Some(i.conv.id.clone()),
                Op::Create(_) | Op::Settle => None,
            })
            .chain(acks.iter().map(|a| a.cid.to_string()))
            .collect();
        cids.sort_unstable();
        cids.dedup();
        let senders = ops
            .iter()
            .filter_map(|op| match op {
                Op::Append(m, _) => Some((m.cid.clone(), m.from.clone())),
                _ => None,
            })
            .chain(
                acks.iter()
                    .map(|a| (a.cid.to_string(), a.client.to_string())),
            )
            .collect();
        Names { cids, senders }
    }
}

impl<'a> Tx<'a> {
    /// Locks every conversation the batch names, and reads the cursors of its
    /// senders and ackers.
    async fn begin(client: &'a Client, names: Names) -> StoreResult<Tx<'a>> {
        let mut tx = Tx {
            client,
            convs: HashMap::new(),
            cursors: HashMap::new(),
            messages: Vec::new(),
            ack_at: HashSet::new(),
            commit: Commit::default(),
        };
        let cids: Vec<&str> = names.cids.iter().map(String::as_str).collect();
        tx.lock(&cids).await?;
        let mut keys: Vec<(i64, &str)> = names
            .senders
            .iter()
            .filter_map(|(cid, client)| tx.convs.get(cid).map(|e| (e.num, client.as_str())))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        tx.read_cursors(&keys).await?;
        Ok(tx)
    }

    /// Locks and reads conversations `cids` (sorted) that the batch has not.
    async fn lock(&mut self, cids: &[&str]) -> StoreResult<()> {
        let cids: Vec<&str> = cids
            .iter()
            .copied()
            .filter(|c| !self.convs.contains_key(*c))
            .collect();
        if cids.is_empty() {
            return Ok(());
        }
        let rows = self
            .client
            .query(
                &format!(
                    r#"SELECT {CONV_COLUMNS} FROM conversations WHERE "objectId" = ANY($1)
                       ORDER BY "objectId" FOR UPDATE"#
                ),
                &[&cids],
            )
            .await
            .map_err(pg)?;
        for row in rows {
            self.remember(conv_from_row(&row));
        }
        Ok(())
    }

    fn remember(&mut self, row: ConvRow) {
        let ConvRow {
            num,
            conv,
            last_seq,
        } = row;
        let entry = Entry {
            num,
            members: Arc::from(conv.members.clone()),
            conv,
            last_seq,
            head: false,
        };
        self.convs.insert(entry.conv.id.clone(), entry);
    }

    /// Conversation `cid`, locked.
    async fn entry(&mut self, cid: &str) -> StoreResult<Option<&mut Entry>> {
        self.lock(&[cid]).await?;
        Ok(self.convs.get_mut(cid))
    }

    async fn read_cursors(&mut self, keys: &[(i64, &str)]) -> StoreResult<()> {
        let keys: Vec<(i64, &str)> = keys
            .iter()
            .copied()
            .filter(|(num, client)| !self.cursors.contains_key(&(*num, Arc::from(*client))))
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        let (nums, clients): (Vec<i64>, Vec<&str>) = keys.iter().copied().unzip();
        let rows = self
            .client
            .query(
                "SELECT m.conv, m.client_id, m.acked, m.ranges FROM members m
                 JOIN unnest($1::bigint[], $2::text[]) AS k(conv, client_id)
                   ON m.conv = k.conv AND m.client_id = k.client_id",
                &[&nums, &clients],
            )
            .await
            .map_err(pg)?;
        for (num, client) in keys {
            self.cursors.insert((num, Arc::from(client)), None);
        }
        for row in rows {
            let key = (row.get::<_, i64>(0), Arc::from(row.get::<_, &str>(1)));
            let cursor = Cursor::with_ranges(row.get(2), ranges_from(row.get(3)));
            self.cursors.insert(
                key,
                Some(Slot {
                    cursor,
                    dirty: false,
                }),
            );
        }
        Ok(())
    }

    /// Records that `client` has message `seq` of conversation `num`; false when it
    /// had it already or is no member.
    async fn ack_seq(&mut self, num: i64, client: &Arc<str>, seq: i64) -> StoreResult<bool> {
        let key = (num, client.clone());
        if !self.cursors.contains_key(&key) {
            self.read_cursors(&[(num, client)]).await?;
        }
        let Some(Some(slot)) = self.cursors.get_mut(&key) else {
            return Ok(false);
        };
        match slot.cursor.ack(seq) {
            Acked::Before => Ok(false),
            Acked::Now { .. } => {
                slot.dirty = true;
                Ok(true)
            }
        }
    }

    /// Forgets what the batch read of member `client` of `num`.
    fn forget_cursor(&mut self, num: i64, client: &str) {
        self.cursors.remove(&(num, Arc::from(client)));
    }

    async fn apply_acks(&mut self, acks: &[Ack]) -> StoreResult<()> {
        let now = now_ms();
        for ack in acks {
            let Some(entry) = self.convs.get(&*ack.cid) else {
                continue;
            };
            if entry.conv.transient || ack.seq > entry.last_seq {
                continue;
            }
            let num = entry.num;
            if !self.ack_seq(num, &ack.client, ack.seq).await? {
                continue;
            }
            self.ack_at.insert((num, ack.seq));
            if let Some((mid, from)) = &ack.receipt {
                self.commit.receipts.push(ReceiptDue {
                    to: from.clone(),
                    cid: ack.cid.to_string(),
                    mid: mid.clone(),
                    at: now,
                });
            }
        }
        Ok(())
    }

    /// Inserts the messages appended so far.
    async fn flush_messages(&mut self) -> StoreResult<()> {
        if self.messages.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.messages);
        let nums: Vec<i64> = rows.iter().map(|(n, _)| *n).collect();
        let seqs: Vec<i64> = rows.iter().map(|(_, m)| m.seq).collect();
        let ids: Vec<&str> = rows.iter().map(|(_, m)| m.id.as_str()).collect();
        let froms: Vec<&str> = rows.iter().map(|(_, m)| m.from.as_str()).collect();
        let data: Vec<&[u8]> = rows.iter().map(|(_, m)| m.data.as_bytes()).collect();
        let times: Vec<i64> = rows.iter().map(|(_, m)| m.timestamp).collect();
        let receipts: Vec<bool> = rows.iter().map(|(_, m)| m.receipt).collect();
        let metas: Vec<Option<String>> = rows
            .iter()
            .map(|(_, m)| Extras::to_meta(m.extras.as_deref()))
            .collect();
        self.client
            .execute(
                r#"INSERT INTO messages (conv, seq, "msgId", "from", data, timestamp, receipt,
                                         meta)
                   SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[],
                                        $5::bytea[], $6::bigint[], $7::bool[], $8::text[])"#,
                &[&nums, &seqs, &ids, &froms, &data, &times, &receipts, &metas],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    /// Writes every message, head, cursor and `ackAt` (set once: the first recipient
    /// ack of a message) the batch changed.
    async fn write_changes(&mut self) -> StoreResult<()> {
        self.flush_messages().await?;
        let heads: Vec<(i64, Option<i64>, i64)> = self
            .convs
            .values()
            .filter(|e| e.head)
            .map(|e| (e.num, e.conv.last_message_at, e.last_seq))
            .collect();
        if !heads.is_empty() {
            let nums: Vec<i64> = heads.iter().map(|h| h.0).collect();
            let lms: Vec<Option<i64>> = heads.iter().map(|h| h.1).collect();
            let seqs: Vec<i64> = heads.iter().map(|h| h.2).collect();
            self.client
                .execute(
                    "UPDATE conversations c SET lm = u.lm, last_seq = u.last_seq
                     FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u(num, lm, last_seq)
                     WHERE c.num = u.num",
                    &[&nums, &lms, &seqs],
                )
                .await
                .map_err(pg)?;
        }
        let moved: Vec<(i64, &str, i64, Json<Value>)> = self
            .cursors
            .iter()
            .filter_map(|((num, client), slot)| {
                let slot = slot.as_ref().filter(|s| s.dirty)?;
                let ranges = Json(ranges_value(slot.cursor.ranges()));
                Some((*num, &**client, slot.cursor.acked(), ranges))
            })
            .collect();
        if !moved.is_empty() {
            let nums: Vec<i64> = moved.iter().map(|c| c.0).collect();
            let clients: Vec<&str> = moved.iter().map(|c| c.1).collect();
            let acked: Vec<i64> = moved.iter().map(|c| c.2).collect();
            let ranges: Vec<&Json<Value>> = moved.iter().map(|c| &c.3).collect();
            self.client
                .execute(
                    "UPDATE members m SET acked = u.acked, ranges = u.ranges
                     FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::jsonb[])
                          AS u(conv, client_id, acked, ranges)
                     WHERE m.conv = u.conv AND m.client_id = u.client_id",
                    &[&nums, &clients, &acked, &ranges],
                )
                .await
                .map_err(pg)?;
        }
        if !self.ack_at.is_empty() {
            let (nums, seqs): (Vec<i64>, Vec<i64>) = self.ack_at.iter().copied().unzip();
            self.client
                .execute(
                    r#"UPDATE messages m SET "ackAt" = $3
                       FROM unnest($1::bigint[], $2::bigint[]) AS u(conv, seq)
                       WHERE m.conv = u.conv AND m.seq = u.seq AND m."ackAt" IS NULL"#,
                    &[&nums, &seqs, &now_ms()],
                )
                .await
                .map_err(pg)?;
        }
        Ok(())
    }
}
