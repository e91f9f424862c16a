//! The SQLite store: one writer thread (group commit, see [`writer`]), reader threads
//! beside it ([`readers`]), and a checkpointer that copies the WAL into the data file
//! off both paths.
//!
//! Durability: WAL with `synchronous = NORMAL`, so a commit is in the OS once
//! `COMMIT` returns (it survives `kill -9`) without an `fsync`. The checkpointer
//! copies the WAL into the data file beside the writer, syncing both. A WAL is only
//! restarted once fully copied, which a writer that never pauses would never let
//! happen: past [`WAL_CATCH_UP_FRAMES`], the writer copies the last frames itself
//! between two batches (the only time it syncs). A power loss may lose the last
//! batches, never the file's consistency. `:memory:` is an ephemeral file in the
//! temporary directory, deleted on close.

mod readers;
mod reads;
pub(super) mod rows;
pub(super) mod schema;
mod writer;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use self::readers::{Priority, Readers};
use self::writer::{Job, Writer};
use super::acks::AckQueue;
use super::queue::JobQueue;
use super::{
    backend, Ack, AcrossRange, Admit, Change, Commit, Import, Imported, LogRange, MessagePatch,
    Pending, PendingPage, QueryHit, Store, StoreResult, StoreStats,
};
use crate::domain::query::Query;
use crate::domain::{Conversation, NewMessage, StoredMessage};

/// Committed batches waiting for the dispatcher; the writer waits beyond.
const QUEUED_COMMITS: usize = 256;
/// Reader threads.
const READERS: usize = 2;
/// Threads for queries that may read every conversation, at background priority.
const SCANNERS: usize = 1;
/// How often the checkpointer copies the WAL into the data file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// WAL pages beyond which the writer catches the checkpoint up (64 MiB of 4 KiB).
const WAL_CATCH_UP_FRAMES: i64 = 16_384;

/// Settings of every connection. A 64 MiB page cache for the writer keeps hot pages
/// out of `pread`; readers take less and lean on the OS cache.
const COMMON: &str = "PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY;
    PRAGMA wal_autocheckpoint = 0;";

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    jobs: JobQueue<Job>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Readers,
    scanners: Readers,
    checkpointer: Checkpointer,
    acks: Arc<AckQueue>,
    commits: Mutex<Option<mpsc::Receiver<Commit>>>,
    stats: Arc<StoreStats>,
    /// The file behind `:memory:`, removed on close.
    ephemeral: Option<PathBuf>,
    /// Held while open: one process per data file (another would hold stale seqs
    /// and cursors in its writer's memory).
    lock: Arc<Mutex<Option<std::fs::File>>>,
}

/// Locks `file.lock` for this process, or says who holds it.
pub(super) fn lock(file: &std::path::Path) -> StoreResult<std::fs::File> {
    let mut path = file.as_os_str().to_owned();
    path.push(".lock");
    let path = PathBuf::from(path);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| backend(format!("{}: {e}", path.display())))?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => Err(backend(format!(
            "{} is in use by another leanrt-server process (it holds {}); stop that one first",
            file.display(),
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(backend(format!("{}: {e}", path.display()))),
    }
}

fn open_conn(path: &std::path::Path, pragmas: &str) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(backend)?;
    conn.execute_batch(COMMON).map_err(backend)?;
    conn.execute_batch(pragmas).map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the data file at `path`, or an
    /// ephemeral one for `:memory:`.
    pub fn open(path: &str) -> StoreResult<SqliteStore> {
        let ephemeral = (path == ":memory:").then(|| {
            std::env::temp_dir().join(format!(
                "leanrt-{}-{:016x}.db",
                std::process::id(),
                rand::random::<u64>()
            ))
        });
        let file = ephemeral.clone().unwrap_or_else(|| PathBuf::from(path));
        let held = match ephemeral {
            None => Some(lock(&file)?),
            Some(_) => None,
        };
        let sync = if ephemeral.is_some() { "OFF" } else { "NORMAL" };
        let mut conn = open_conn(
            &file,
            &format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync};
                 PRAGMA cache_size = -65536; PRAGMA journal_size_limit = 67108864;"
            ),
        )?;
        schema::migrate(&mut conn)?;
        let stats = Arc::new(StoreStats::default());
        let pool = |n: usize| {
            (0..n)
                .map(|_| open_conn(&file, "PRAGMA cache_size = -4096; PRAGMA query_only = 1;"))
                .collect::<StoreResult<Vec<_>>>()
        };
        let readers = Readers::start(
            "leanrt-read",
            pool(READERS)?,
            Priority::Normal,
            stats.clone(),
        )?;
        let scanners = Readers::start(
            "leanrt-scan",
            pool(SCANNERS)?,
            Priority::Background,
            stats.clone(),
        )?;
        let catch_up = Arc::new(AtomicBool::new(false));
        let checkpointer = Checkpointer::start(
            open_conn(
                &file,
                &format!("PRAGMA synchronous = {sync}; PRAGMA cache_size = -2048;"),
            )?,
            catch_up.clone(),
        )?;
        let (jobs, queue) = JobQueue::new();
        let (commits_tx, commits) = mpsc::channel(QUEUED_COMMITS);
        let acks = Arc::new(AckQueue::default());
        let writer = Writer::new(conn, acks.clone(), commits_tx, stats.clone(), catch_up);
        let writer = std::thread::Builder::new()
            .name("leanrt-store".into())
            .spawn(move || writer.run(queue))
            .map_err(backend)?;
        Ok(SqliteStore {
            jobs,
            writer: Mutex::new(Some(writer)),
            readers,
            scanners,
            checkpointer,
            acks,
            commits: Mutex::new(Some(commits)),
            stats,
            ephemeral,
            lock: Arc::new(Mutex::new(held)),
        })
    }

    /// Queues `op` for the writer now; resolves with its result once its batch
    /// committed.
    fn submit<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Writer) -> StoreResult<T> + Send + 'static,
    ) -> BoxFuture<'static, StoreResult<T>> {
        let (reply, result) = oneshot::channel();
        let job: Job = Box::new(move |w| {
            let out = op(w);
            Box::new(move |commit| {
                let _ = reply.send(commit.and(out));
            })
        });
        let queued = self.jobs.send(job);
        async move {
            if !queued {
                return Err(backend("store closed"));
            }
            result
                .await
                .unwrap_or_else(|_| Err(backend("the store failed this operation")))
        }
        .boxed()
    }
}

impl Store for SqliteStore {
    fn create(&self, conv: Conversation) -> BoxFuture<'static, StoreResult<(Conversation, bool)>> {
        self.submit(move |w| w.create(conv))
    }

    fn conversation(&self, cid: &str) -> BoxFuture<'static, StoreResult<Option<Conversation>>> {
        let cid = cid.to_owned();
        self.readers
            .run(move |c| Ok(reads::conversation(c, &cid)?.map(|row| row.conv)))
    }

    fn modify(
        &self,
        cid: &str,
        change: Change,
    ) -> BoxFuture<'static, StoreResult<(Conversation, Vec<String>)>> {
        let cid = cid.to_owned();
        self.submit(move |w| w.modify(&cid, change))
    }

    fn query(&self, query: Query) -> BoxFuture<'static, StoreResult<Vec<QueryHit>>> {
        let pool = if reads::may_scan(&query) {
            &self.scanners
        } else {
            &self.readers
        };
        pool.run(move |c| reads::query(c, &query))
    }

    fn append(
        &self,
        msg: NewMessage,
        admit: Admit,
    ) -> BoxFuture<'static, StoreResult<Arc<StoredMessage>>> {
        self.submit(move |w| w.append(msg, admit))
    }

    fn ack(&self, acks: Vec<Ack>) {
        if acks.is_empty() || !self.acks.push(acks) {
            return;
        }
        // Wakes the writer, whose next batch takes the acks.
        self.jobs.send(Box::new(|_| Box::new(|_| {})));
    }

    fn settle_acks(&self) -> BoxFuture<'static, StoreResult<()>> {
        // Every batch takes the acks queued before it.
        self.submit(|_| Ok(()))
    }

    fn logs(
        &self,
        range: LogRange,
        admit: Admit,
    ) -> BoxFuture<'static, StoreResult<Vec<StoredMessage>>> {
        self.readers.run(move |c| reads::logs(c, &range, admit))
    }

    fn across(&self, range: AcrossRange) -> BoxFuture<'static, StoreResult<Vec<StoredMessage>>> {
        self.scanners.run(move |c| reads::across(c, &range))
    }

    fn pending(
        &self,
        client: &str,
        conversations: usize,
    ) -> BoxFuture<'static, StoreResult<Vec<Pending>>> {
        let client = client.to_owned();
        self.readers
            .run(move |c| reads::pending(c, &client, conversations))
    }

    fn pending_page(
        &self,
        client: &str,
        pending: &Pending,
        limit: usize,
    ) -> BoxFuture<'static, StoreResult<PendingPage>> {
        let (client, pending) = (client.to_owned(), pending.clone());
        self.readers
            .run(move |c| reads::pending_page(c, &client, &pending, limit))
    }

    fn patch(&self, patch: MessagePatch) -> BoxFuture<'static, StoreResult<i64>> {
        self.submit(move |w| w.patch(patch))
    }

    fn delete(&self, cid: &str) -> BoxFuture<'static, StoreResult<bool>> {
        let cid = cid.to_owned();
        self.submit(move |w| w.delete(&cid))
    }

    fn import(&self, import: Import) -> BoxFuture<'static, StoreResult<Imported>> {
        self.submit(move |w| w.import(import))
    }

    fn commits(&self) -> Option<mpsc::Receiver<Commit>> {
        self.commits.lock().ok().and_then(|mut c| c.take())
    }

    fn stats(&self) -> &StoreStats {
        &self.stats
    }

    fn close(&self) -> BoxFuture<'static, ()> {
        self.jobs.close();
        let writer = self.writer.lock().ok().and_then(|mut t| t.take());
        self.readers.stop();
        self.scanners.stop();
        let checkpointer = self.checkpointer.stop_handle();
        let ephemeral = self.ephemeral.clone();
        let lock = self.lock.clone();
        async move {
            let _ = tokio::task::spawn_blocking(move || {
                if let Some(writer) = writer {
                    let _ = writer.join();
                }
                checkpointer.stop();
                drop(lock.lock().ok().and_then(|mut l| l.take()));
                if let Some(file) = ephemeral {
                    remove_files(&file);
                }
            })
            .await;
        }
        .boxed()
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Some(file) = &self.ephemeral {
            self.checkpointer.stop_handle().stop();
            remove_files(file);
        }
    }
}

fn remove_files(file: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut path = file.as_os_str().to_owned();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
}

/// A thread that checkpoints the WAL every [`CHECKPOINT_EVERY`], so that its
/// `fsync`s never stall the writer.
struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// Stops the checkpointer: a last full checkpoint, then the connection closes.
struct StopCheckpointer {
    stop: Arc<AtomicBool>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Checkpointer {
    /// `catch_up` is raised when the WAL outgrew [`WAL_CATCH_UP_FRAMES`].
    fn start(conn: Connection, catch_up: Arc<AtomicBool>) -> StoreResult<Checkpointer> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("leanrt-checkpoint".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    std::thread::park_timeout(CHECKPOINT_EVERY);
                    let frames = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                    });
                    match frames {
                        Ok((log, copied)) if log > WAL_CATCH_UP_FRAMES && copied < log => {
                            catch_up.store(true, Ordering::Release);
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "checkpoint failed"),
                    }
                }
                let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
            })
            .map_err(backend)?;
        Ok(Checkpointer {
            stop,
            thread: Arc::new(Mutex::new(Some(thread))),
        })
    }

    fn stop_handle(&self) -> StopCheckpointer {
        StopCheckpointer {
            stop: self.stop.clone(),
            thread: self.thread.clone(),
        }
    }
}

impl StopCheckpointer {
    fn stop(self) {
        self.stop.store(true, Ordering::Release);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}
