//! Reader threads, each with its own connection: WAL lets them read committed data
//! beside the writer, so reads never wait behind writes. Each read runs in one read
//! transaction (a consistent snapshot).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::store::{backend, StoreResult, StoreStats};

type Read = Box<dyn FnOnce(&mut Connection) + Send>;

pub struct Readers {
    jobs: Mutex<Option<mpsc::Sender<Read>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    stats: Arc<StoreStats>,
}

impl Readers {
    /// Starts one thread per connection.
    pub fn start(conns: Vec<Connection>, stats: Arc<StoreStats>) -> StoreResult<Readers> {
        let (tx, rx) = mpsc::channel::<Read>();
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::new();
        for (n, mut conn) in conns.into_iter().enumerate() {
            let rx = rx.clone();
            let thread = std::thread::Builder::new()
                .name(format!("leanrt-read-{n}"))
                .spawn(move || loop {
                    let next = rx.lock().map(|rx| rx.recv());
                    let Ok(Ok(read)) = next else { break };
                    read(&mut conn);
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
