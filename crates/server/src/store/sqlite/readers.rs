//! Reader threads, each with its own connection: WAL lets them read committed data
//! beside the writer, so reads never wait behind writes. Each read runs in one read
//! transaction (a consistent snapshot). A pool of [`Priority::Background`] threads
//! takes the queries that may scan every conversation: they run on the CPU the writer
//! and the connections leave, instead of delaying their acks.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::store::{backend, StoreResult, StoreStats};

type Read = Box<dyn FnOnce(&mut Connection) + Send>;

/// How a pool's threads are scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    Normal,
    /// Only CPU time nothing else wants (Linux `SCHED_IDLE`; elsewhere, normal).
    Background,
}

/// Applies `priority` to the calling thread.
fn set_priority(priority: Priority) {
    if priority == Priority::Normal {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: sched_setscheduler on the calling thread (pid 0) with a valid param.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
            tracing::debug!("cannot give a reader thread the idle priority");
        }
    }
}

pub struct Readers {
    jobs: Mutex<Option<mpsc::Sender<Read>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    stats: Arc<StoreStats>,
}

impl Readers {
    /// Starts one thread per connection, named `{name}-{n}`.
    pub fn start(
        name: &str,
        conns: Vec<Connection>,
        priority: Priority,
        stats: Arc<StoreStats>,
    ) -> StoreResult<Readers> {
        let (tx, rx) = mpsc::channel::<Read>();
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::new();
        for (n, mut conn) in conns.into_iter().enumerate() {
            let rx = rx.clone();
            let thread = std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || {
                    set_priority(priority);
                    loop {
                        let next = rx.lock().map(|rx| rx.recv());
                        let Ok(Ok(read)) = next else { break };
                        read(&mut conn);
                    }
                })
                .map_err(backend)?;
            threads.push(thread);
        }
        Ok(Readers {
            jobs: Mutex::new(Some(tx)),
            threads: Mutex::new(threads),
            stats,
        })
    }

    /// Runs `read` on a reader connection inside a read transaction.
    pub fn run<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> BoxFuture<'static, StoreResult<T>> {
        let (reply, result) = oneshot::channel();
        let job: Read = Box::new(move |conn| {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let tx = conn.transaction().map_err(backend)?;
                let out = read(&tx);
                let _ = tx.finish();
                out
            }))
            .unwrap_or_else(|_| Err(backend("a read panicked")));
            let _ = reply.send(outcome);
        });
        StoreStats::add(&self.stats.reads, 1);
        let sent = self
            .jobs
            .lock()
            .ok()
            .and_then(|jobs| jobs.as_ref().map(|tx| tx.send(job).is_ok()))
            .unwrap_or(false);
        async move {
            if !sent {
                return Err(backend("store closed"));
            }
            result
                .await
                .unwrap_or_else(|_| Err(backend("a reader stopped")))
        }
        .boxed()
    }

    /// Lets the threads finish the reads already queued, and waits for them.
    pub fn stop(&self) {
        drop(self.jobs.lock().ok().and_then(|mut jobs| jobs.take()));
        let threads = self
            .threads
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        for thread in threads {
            let _ = thread.join();
        }
    }
}
