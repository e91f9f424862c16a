//! The PostgreSQL store, for one node or several on one database: a group-commit
//! writer per node ([`writer`]) and pooled reader connections ([`reads`]).
//!
//! PostgreSQL decides durability and order: a message's seq is taken under its
//! conversation's row lock in the transaction that stores it, so seq order is
//! commit order on every node, and an operation resolves only after `COMMIT`.
//! Failures of the database are [`StoreError::Unavailable`], retryable when nothing
//! was applied; the writer reconnects by itself when the database returns.

pub(super) mod errors;
mod reads;
pub(super) mod rows;
mod schema;
mod writer;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, NoTls};

use self::errors::{pg, unreachable};
use self::writer::{Job, Op, Output, Writer};
use super::acks::AckQueue;
use super::queue::JobQueue;
use super::{
    backend, Ack, AcrossRange, Admit, Change, Commit, Import, Imported, LogRange, MessagePatch,
    Pending, PendingPage, QueryHit, Store, StoreResult, StoreStats,
};
use crate::domain::query::Query;
use crate::domain::{Conversation, NewMessage, StoredMessage};

/// Reader connections in the pool.
const READERS: usize = 4;
/// Committed batches waiting for the dispatcher; the writer waits beyond.
const QUEUED_COMMITS: usize = 256;
/// Longest wait for a connection, and for a read.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `db` names a PostgreSQL database rather than an SQLite file.
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// The PostgreSQL implementation of [`Store`].
pub struct PgStore {
    jobs: JobQueue<Job>,
    writer: Mutex<Option<JoinHandle<()>>>,
    pool: Pool,
    acks: Arc<AckQueue>,
    commits: Mutex<Option<mpsc::Receiver<Commit>>>,
    stats: Arc<StoreStats>,
}

impl PgStore {
    /// Connects to the database at `url` (creating it when it does not exist and
    /// the user may), and brings its schema up to date.
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        let (config, client) = open_migrated(url).await?;
        drop(client);
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(READERS)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(backend)?;
        let stats = Arc::new(StoreStats::default());
        let acks = Arc::new(AckQueue::default());
        let (jobs, queue) = JobQueue::new();
        let (commits_tx, commits) = mpsc::channel(QUEUED_COMMITS);
        let writer = Writer::new(config, acks.clone(), commits_tx, stats.clone());
        let writer = tokio::spawn(writer.run(queue));
        Ok(PgStore {
            jobs,
            writer: Mutex::new(Some(writer)),
            pool,
            acks,
            commits: Mutex::new(Some(commits)),
            stats,
        })
    }

    /// Queues `op` for the writer; resolves once its batch committed, with what
    /// `pick` takes from its output.
    fn submit<T: Send + 'static>(
        &self,
        op: Op,
        pick: fn(Output) -> Option<T>,
    ) -> BoxFuture<'static, StoreResult<T>> {
        let (reply, result) = oneshot::channel();
        let queued = self.jobs.send(Job { op, reply });
        async move {
            if !queued {
                return Err(backend("store closed"));
            }
            let out = result
                .await
                .unwrap_or_else(|_| Err(backend("the store failed this operation")))?;
            pick(out).ok_or_else(|| backend("the store answered another operation"))
        }
        .boxed()
    }

    /// Runs `read` on a pooled connection, within [`READ_TIMEOUT`].
    fn read<T, F, Fut>(&self, read: F) -> BoxFuture<'static, StoreResult<T>>
    where
        T: Send + 'static,
        F: FnOnce(deadpool_postgres::Client) -> Fut + Send + 'static,
        Fut: Future<Output = StoreResult<T>> + Send,
    {
        let pool = self.pool.clone();
        let stats = self.stats.clone();
        async move {
            StoreStats::add(&stats.reads, 1);
            let work = async {
                let client = pool.get().await.map_err(unreachable)?;
                read(client).await
            };
            tokio::time::timeout(READ_TIMEOUT, work)
                .await
                .unwrap_or_else(|_| Err(unreachable("a read timed out")))
        }
        .boxed()
    }
}

/// The settings of `url`, and a connection to its database with the schema up to
/// date.
pub(super) async fn open_migrated(url: &str) -> StoreResult<(Config, Client)> {
    let mut config: Config = url
        .parse()
        .map_err(|e| backend(format!("{url} is not a PostgreSQL URL: {e}")))?;
    config.connect_timeout(CONNECT_TIMEOUT);
    config.keepalives_idle(Duration::from_secs(30));
    if config.get_application_name().is_none() {
        config.application_name("leanrt-server");
    }
    let mut client = connect_creating(&config).await?;
    schema::migrate(&mut client).await?;
    Ok((config, client))
}

/// Connects; a database that does not exist yet is created first.
async fn connect_creating(config: &Config) -> StoreResult<Client> {
    match open(config).await {
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::INVALID_CATALOG_NAME) => {
            let name = config.get_dbname().unwrap_or("postgres").to_owned();
            let mut admin = config.clone();
            admin.dbname("postgres");
            let client = open(&admin).await.map_err(pg)?;
            let quoted = name.replace('"', "\"\"");
            match client
                .batch_execute(&format!("CREATE DATABASE \"{quoted}\""))
                .await
            {
                Ok(()) => tracing::info!(database = %name, "created the PostgreSQL database"),
                // Another node created it at the same time.
                Err(e)
                    if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
                Err(e) => return Err(pg(e)),
            }
            open(config).await.map_err(pg)
        }
        other => other.map_err(pg),
    }
}

async fn open(config: &Config) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

impl Store for PgStore {
    fn create(&self, conv: Conversation) -> BoxFuture<'static, StoreResult<(Conversation, bool)>> {
        self.submit(Op::Create(conv), |o| match o {
            Output::Created(conv, created) => Some((conv, created)),
            _ => None,
        })
    }

    fn conversation(&self, cid: &str) -> BoxFuture<'static, StoreResult<Option<Conversation>>> {
        let cid = cid.to_owned();
        self.read(
            move |c| async move { Ok(reads::conversation(&c, &cid).await?.map(|row| row.conv)) },
        )
    }

    fn modify(
        &self,
        cid: &str,
        change: Change,
    ) -> BoxFuture<'static, StoreResult<(Conversation, Vec<String>)>> {
        self.submit(Op::Modify(cid.to_owned(), change), |o| match o {
            Output::Modified(conv, concerned) => Some((conv, concerned)),
            _ => None,
        })
    }

    fn query(&self, query: Query) -> BoxFuture<'static, StoreResult<Vec<QueryHit>>> {
        self.read(move |c| async move { reads::query(&c, &query).await })
    }

    fn append(
        &self,
        msg: NewMessage,
        admit: Admit,
    ) -> BoxFuture<'static, StoreResult<Arc<StoredMessage>>> {
        self.submit(Op::Append(msg, admit), |o| match o {
            Output::Appended(m) => Some(m),
            _ => None,
        })
    }

    fn patch(&self, patch: MessagePatch) -> BoxFuture<'static, StoreResult<i64>> {
        self.submit(Op::Patch(patch), |o| match o {
            Output::Patched(t) => Some(t),
            _ => None,
        })
    }

    fn ack(&self, acks: Vec<Ack>) {
        if acks.is_empty() || !self.acks.push(acks) {
            return;
        }
        // Wakes the writer, whose next batch takes the acks.
        drop(self.settle_acks());
    }

    fn settle_acks(&self) -> BoxFuture<'static, StoreResult<()>> {
        // Every batch takes the acks queued before it.
        self.submit(Op::Settle, |o| matches!(o, Output::Settled).then_some(()))
    }

    fn logs(
        &self,
        range: LogRange,
        admit: Admit,
    ) -> BoxFuture<'static, StoreResult<Vec<StoredMessage>>> {
        self.read(move |c| async move { reads::logs(&c, &range, admit).await })
    }

    fn across(&self, range: AcrossRange) -> BoxFuture<'static, StoreResult<Vec<StoredMessage>>> {
        self.read(move |c| async move { reads::across(&c, &range).await })
    }

    fn pending(
        &self,
        client: &str,
        conversations: usize,
    ) -> BoxFuture<'static, StoreResult<Vec<Pending>>> {
        let client = client.to_owned();
        self.read(move |c| async move { reads::pending(&c, &client, conversations).await })
    }

    fn pending_page(
        &self,
        client: &str,
        pending: &Pending,
        limit: usize,
    ) -> BoxFuture<'static, StoreResult<PendingPage>> {
        let (client, pending) = (client.to_owned(), pending.clone());
        self.read(move |c| async move { reads::pending_page(&c, &client, &pending, limit).await })
    }

    fn delete(&self, cid: &str) -> BoxFuture<'static, StoreResult<bool>> {
        self.submit(Op::Delete(cid.to_owned()), |o| match o {
            Output::Deleted(existed) => Some(existed),
            _ => None,
        })
    }

    fn import(&self, import: Import) -> BoxFuture<'static, StoreResult<Imported>> {
        self.submit(Op::Import(import), |o| match o {
            Output::Imported(n) => Some(n),
            _ => None,
        })
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
        let pool = self.pool.clone();
        async move {
            if let Some(writer) = writer {
                let _ = writer.await;
            }
            pool.close();
        }
        .boxed()
    }
}
