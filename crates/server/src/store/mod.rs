//! Persistent state behind [`Store`]: conversations, messages and member cursors.
//! Storage only: the rules (who may send, what an update may set, member caps) come
//! from the domain, as closures and functions the service hands in.
//!
//! # Ordering contract
//! Every implementation guarantees:
//! 1. **Durability.** A future resolves `Ok` only after its effect is committed.
//! 2. **Seq.** Each stored message gets the next seq of its conversation at commit:
//!    gap-free, increasing in commit order. Its timestamp is raised to the
//!    conversation's last one, so (timestamp, seq) order is seq order.
//! 3. **Commit stream.** [`Store::commits`] yields every committed message exactly
//!    once, and the messages of one conversation in seq order, each with the member
//!    list at its seq; receipts due from acks follow the commit that recorded them.
//! 4. **Reads** see committed data only, and every write whose result resolved
//!    before the read began. They never wait for the writer.
//! 5. **Acks** are fire-and-forget: recorded at a later commit, coalesced per
//!    (conversation, clientId). An ack of a seq already acked changes nothing.
//! 6. **Members.** A member added at seq N starts with its cursor at N (no older
//!    message is pending for it); a removed member's cursor is deleted.
//!
//! Operations from one caller are not otherwise ordered against each other: a caller
//! that needs one write after another awaits the first.

mod acks;
mod bounds;
mod copy;
mod cursor;
mod postgres;
mod queue;
mod sequence;
mod sqlite;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use leanrt_protocol::command::Bound;
use tokio::sync::mpsc;

pub use copy::{sqlite_to_postgres, Copied};
pub use postgres::{is_url as is_postgres_url, PgStore};
pub use sqlite::SqliteStore;

use crate::domain::query::Query;
use crate::domain::{Conversation, NewMessage, Refusal, SessionId, StoredMessage};

/// Why a store operation failed.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// A domain rule refused it (evaluated inside the store's transaction).
    #[error("refused: {0:?}")]
    Refused(Refusal),
    /// The backend failed. `retryable` when trying again may succeed (a busy
    /// database, a dropped connection) and nothing was applied.
    #[error("storage failure: {detail}")]
    Unavailable { detail: String, retryable: bool },
}

impl From<Refusal> for StoreError {
    fn from(r: Refusal) -> Self {
        StoreError::Refused(r)
    }
}

/// A backend failure that is not worth retrying.
pub fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable {
        detail: e.to_string(),
        retryable: false,
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A `conv query` result: the conversation and, when asked for, its last message.
pub type QueryHit = (Conversation, Option<StoredMessage>);

/// A change to one conversation, applied under the store's lock on it. It returns
/// the clientIds it concerns (added or removed members; empty for other changes).
pub type Change = Box<dyn FnOnce(&mut Conversation) -> Result<Vec<String>, Refusal> + Send>;

/// Decides whether a message may be appended to a conversation (a domain rule).
pub type Admit = fn(&Conversation, &str) -> Result<(), Refusal>;

/// A `logs` request (§6.6): the newest `limit` messages between the bounds (the
/// oldest `limit` when `oldest`), returned oldest first.
#[derive(Clone, Debug)]
pub struct LogRange {
    pub cid: String,
    /// Who asks; the store checks them with the `Admit` it is given.
    pub requester: String,
    pub before: Bound,
    pub after: Bound,
    pub limit: usize,
    pub oldest: bool,
    /// Whether the message a bound names is itself in the range (else bounds are
    /// exclusive).
    pub include_before: bool,
    pub include_after: bool,
}

/// A point in history across conversations: a time, and the message of that
/// millisecond it refines to, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct At {
    pub timestamp: i64,
    pub mid: Option<String>,
}

/// History across conversations (the whole app, or what one client sent), in
/// `(timestamp, msgId)` order: newest first from
/// `start` down to `till`, or oldest first from `start` up to `till` when `reversed`.
#[derive(Clone, Debug)]
pub struct AcrossRange {
    pub from: Option<String>,
    pub start: Option<At>,
    pub till: Option<At>,
    pub include_start: bool,
    pub include_stop: bool,
    pub reversed: bool,
    pub limit: usize,
}

/// What a login owes one member in one conversation: every message with a seq in
/// `(after, upto]` that is not its own and not in `acked`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub cid: Arc<str>,
    /// The member's cursor.
    pub after: i64,
    /// The conversation's last seq when read.
    pub upto: i64,
    /// Acked runs above the cursor.
    pub acked: Vec<(i64, i64)>,
}

/// A page of pending messages.
#[derive(Clone, Debug, Default)]
pub struct PendingPage {
    /// Oldest first, without the member's own and already acked ones.
    pub messages: Vec<StoredMessage>,
    /// Every seq up to this one was examined.
    pub scanned_to: i64,
}

impl PendingPage {
    /// The page of `p` from `rows`: up to `limit` messages read oldest first after
    /// `p.after` (without the member's own), less those already acked.
    pub fn of(rows: Vec<StoredMessage>, p: &Pending, limit: usize) -> PendingPage {
        let scanned_to = match rows.last() {
            Some(last) if rows.len() == limit => last.seq,
            _ => p.upto,
        };
        let messages = rows
            .into_iter()
            .filter(|m| !p.acked.iter().any(|&(lo, hi)| lo <= m.seq && m.seq <= hi))
            .collect();
        PendingPage {
            messages,
            scanned_to,
        }
    }
}

/// A new content for message `mid` of `cid`, asked by `by`, at `at`.
#[derive(Clone, Debug)]
pub struct MessagePatch {
    pub cid: String,
    pub mid: String,
    pub by: String,
    pub data: String,
    /// The content's mentions and `bin` (with `patchTimestamp` = `at`).
    pub extras: crate::domain::Extras,
    pub at: i64,
}

impl MessagePatch {
    /// The JSON merged into the message's `meta`: its content keys replaced.
    pub fn meta(&self) -> String {
        let extras = crate::domain::Extras {
            patch_timestamp: Some(self.at),
            ..self.extras.clone()
        };
        serde_json::to_string(&extras).unwrap_or_else(|_| "{}".into())
    }
}

/// A recipient's ack of one delivered message.
#[derive(Clone, Debug)]
pub struct Ack {
    pub cid: Arc<str>,
    pub client: Arc<str>,
    pub seq: i64,
    /// For messages that asked for receipts: their id and sender.
    pub receipt: Option<(String, String)>,
}

/// A receipt made due by the first ack of a clientId.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptDue {
    /// The sender, who gets the `rcp`.
    pub to: String,
    pub cid: String,
    pub mid: String,
    pub at: i64,
}

/// One committed message, for live delivery.
#[derive(Clone, Debug)]
pub struct Committed {
    pub msg: Arc<StoredMessage>,
    /// Members at the message's seq (empty for transient conversations).
    pub members: Arc<[String]>,
    /// The conversation is transient: deliver to its online participants.
    pub room: bool,
    /// The sending session, which live delivery skips.
    pub origin: Option<SessionId>,
}

/// What one commit made visible.
#[derive(Clone, Debug, Default)]
pub struct Commit {
    pub messages: Vec<Committed>,
    pub receipts: Vec<ReceiptDue>,
}

/// One exported conversation and its history, for [`Store::import`].
#[derive(Clone, Debug)]
pub struct Import {
    /// The record; an existing conversation with this id keeps its own.
    pub conv: Conversation,
    /// Oldest first.
    pub messages: Vec<ImportedMessage>,
}

/// A message from an export: its id, time and first delivery are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedMessage {
    pub id: String,
    pub from: String,
    pub data: String,
    pub timestamp: i64,
    pub ack_at: Option<i64>,
    /// The record's other fields (`bin`, `from-ip`, unknown keys) as a JSON object.
    pub meta: Option<String>,
}

/// What one [`Store::import`] changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// The conversation was new.
    pub created: bool,
    pub messages: usize,
    /// Messages whose id was stored already (or given twice).
    pub duplicates: usize,
}

/// Counters of the store's work, for tests and metrics.
#[derive(Debug, Default)]
pub struct StoreStats {
    pub commits: AtomicU64,
    pub operations: AtomicU64,
    pub acks: AtomicU64,
    pub reads: AtomicU64,
}

impl StoreStats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Persistent state of the server. Implementations: [`SqliteStore`], [`PgStore`].
pub trait Store: Send + Sync + 'static {
    /// Creates `conv`, or for a unique conversation returns the existing one with
    /// the same `unique_key`. The flag tells whether it was created.
    fn create(&self, conv: Conversation) -> BoxFuture<'static, StoreResult<(Conversation, bool)>>;

    /// A conversation by id, from a reader.
    fn conversation(&self, cid: &str) -> BoxFuture<'static, StoreResult<Option<Conversation>>>;

    /// Applies `change` to conversation `cid` atomically; member changes start or
    /// delete cursors. Returns the new record and what `change` returned.
    fn modify(
        &self,
        cid: &str,
        change: Change,
    ) -> BoxFuture<'static, StoreResult<(Conversation, Vec<String>)>>;

    /// Runs a `conv query` on a reader.
    fn query(&self, query: Query) -> BoxFuture<'static, StoreResult<Vec<QueryHit>>>;

    /// Stores a message if `admit` allows its sender, sets the conversation's `lm`,
    /// counts it as acked by its sender, and streams it to [`Store::commits`].
    fn append(
        &self,
        msg: NewMessage,
        admit: Admit,
    ) -> BoxFuture<'static, StoreResult<Arc<StoredMessage>>>;

    /// Replaces the content of a stored message (a v3 `patch`: modify or recall) if
    /// its sender asks; returns the message's own timestamp.
    fn patch(&self, patch: MessagePatch) -> BoxFuture<'static, StoreResult<i64>>;

    /// Records acks (see the ordering contract).
    fn ack(&self, acks: Vec<Ack>);

    /// Resolves once every ack recorded before the call is committed.
    fn settle_acks(&self) -> BoxFuture<'static, StoreResult<()>>;

    /// History on a reader, if `admit` lets the requester read it.
    fn logs(
        &self,
        range: LogRange,
        admit: Admit,
    ) -> BoxFuture<'static, StoreResult<Vec<StoredMessage>>>;

    /// History across conversations, in page order, on a background reader.
    fn across(&self, range: AcrossRange) -> BoxFuture<'static, StoreResult<Vec<StoredMessage>>>;

    /// What `client` is owed at login: at most `conversations` conversations (those
    /// with the newest messages), on a reader.
    fn pending(
        &self,
        client: &str,
        conversations: usize,
    ) -> BoxFuture<'static, StoreResult<Vec<Pending>>>;

    /// The next page of `pending` for `client`, at most `limit` messages.
    fn pending_page(
        &self,
        client: &str,
        pending: &Pending,
        limit: usize,
    ) -> BoxFuture<'static, StoreResult<PendingPage>>;

    /// Deletes conversation `cid` with its history, members and cursors; whether it
    /// existed.
    fn delete(&self, cid: &str) -> BoxFuture<'static, StoreResult<bool>>;

    /// Adds an exported conversation atomically: its record unless the id exists,
    /// and every message whose id is new, merged into the history by timestamp (the
    /// conversation is re-sequenced when one lands before a stored message). Imported
    /// messages count as delivered to every member, so no login pushes them; what a
    /// member was owed before stays owed. Nothing is streamed to [`Store::commits`].
    /// Re-sequencing renumbers deliveries that sessions may hold, so run it with no
    /// sessions in the conversation (the `import` command runs with the server
    /// stopped).
    fn import(&self, import: Import) -> BoxFuture<'static, StoreResult<Imported>>;

    /// The commit stream; the first caller takes it.
    fn commits(&self) -> Option<mpsc::Receiver<Commit>>;

    fn stats(&self) -> &StoreStats;

    /// Finishes pending writes and releases the backend.
    fn close(&self) -> BoxFuture<'static, ()>;
}

/// Opens the store `db` names: PostgreSQL for a `postgres://` or `postgresql://`
/// URL, else the SQLite file at that path (`:memory:`: an ephemeral one).
pub async fn open_store(db: &str) -> StoreResult<Arc<dyn Store>> {
    if postgres::is_url(db) {
        return Ok(Arc::new(PgStore::connect(db).await?));
    }
    let db = db.to_owned();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&db))
        .await
        .map_err(backend)??;
    Ok(Arc::new(store))
}
