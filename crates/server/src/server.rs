//! Binding, the accept loop and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::auth::Signatures;
use crate::config::{Apps, Config};
use crate::connection;
use crate::hub::LocalHub;
use crate::router;
use crate::shared::Shared;
use crate::store::{SqliteStore, StoreError};

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
}

/// A bound server, not yet accepting.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
    config: Config,
}

impl Server {
    /// Opens the store and binds the listening socket.
    pub async fn bind(config: Config) -> Result<Server, Error> {
        let db = config.db.clone();
        let store = tokio::task::spawn_blocking(move || SqliteStore::open(&db))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))??;
        let listener = TcpListener::bind(config.listen).await?;
        let shared = Arc::new(Shared {
            limits: config.limits.clone(),
            apps: Apps::new(&config.apps),
            store: Arc::new(store),
            hub: Arc::new(LocalHub::default()),
            signatures: Signatures::new(config.limits.signature_window, config.limits.nonce_cache),
            public_url: config.public_url.clone(),
            local_addr: listener.local_addr()?,
        });
        Ok(Server {
            listener,
            shared,
            config,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Serves until `shutdown` resolves, then stops accepting, closes every socket with
    /// 1001, waits for connections up to the drain timeout and flushes the store.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let Server {
            listener,
            shared,
            config,
        } = self;
        let permits = u32::try_from(config.max_connections)
            .unwrap_or(u32::MAX)
            .min(Semaphore::MAX_PERMITS as u32)
            .max(1);
        let slots = Arc::new(Semaphore::new(permits as usize));
        let (stop, stopped) = watch::channel(false);
        let next_id = AtomicU64::new(1);
        tokio::pin!(shutdown);
        tracing::info!(addr = %shared.local_addr, db = %config.db, "listening");
        loop {
            let (mut stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                tokio::spawn(async move {
                    let body = r#"{"code":4116,"error":"SERVER_BUSY"}"#;
                    router::respond(&mut stream, "503 Service Unavailable", body).await;
                });
                continue;
            };
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            let shared = shared.clone();
            let mut stopped = stopped.clone();
            let span = tracing::info_span!("conn", id, %peer, client = tracing::field::Empty);
            tokio::spawn(
                async move {
                    // A client still sending its request head does not delay shutdown.
                    let ws = tokio::select! {
                        ws = router::accept(stream, &shared) => ws,
                        _ = stopped.changed() => None,
                    };
                    if let Some(ws) = ws {
                        tracing::debug!("websocket open");
                        connection::serve(ws, shared, id, stopped).await;
                        tracing::debug!("websocket closed");
                    }
                    drop(slot);
                }
                .instrument(span),
            );
        }
        drop(listener);
        tracing::info!("shutting down");
        let _ = stop.send(true);
        let drained = tokio::time::timeout(config.drain_timeout, slots.acquire_many(permits)).await;
        if drained.is_err() {
            tracing::warn!("some connections did not close in time");
        }
        shared.store.close().await;
        Ok(())
    }

    /// Runs the server on the current runtime; the handle stops it.
    pub fn spawn(self) -> ServerHandle {
        let (stop, stopped) = oneshot::channel::<()>();
        let local_addr = self.local_addr();
        let task = tokio::spawn(self.run(async {
            let _ = stopped.await;
        }));
        ServerHandle {
            local_addr,
            stop,
            task,
        }
    }
}

/// A running server.
pub struct ServerHandle {
    local_addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), Error>>,
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Shuts down gracefully and waits until the store is flushed.
    pub async fn shutdown(self) -> Result<(), Error> {
        let _ = self.stop.send(());
        self.task
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e)))?
    }
}
