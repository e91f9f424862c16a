//! Binding, the accept loop and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::auth::{LocalNonces, NonceCache, Signatures};
use crate::config::{Apps, Config};
use crate::connection;
use crate::domain::SessionId;
use crate::hub::{Hub, LocalHub};
use crate::ids::random_id;
use crate::router;
use crate::service::Service;
use crate::store::{is_postgres_url, open_store, Store, StoreError, StoreStats};
use crate::time::now_ms;

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot join the cluster: {0}")]
    Cluster(String),
}

/// The store, the hub and the nonce cache a server runs on.
pub struct Backends {
    pub store: Arc<dyn Store>,
    pub hub: Arc<dyn Hub>,
    pub nonces: Arc<dyn NonceCache>,
}

impl Backends {
    /// What `config` names: the store of `config.db` (the SQLite file, or PostgreSQL
    /// for a `postgres://` URL), and with `config.redis` the Redis hub and nonce
    /// cache, else the in-process ones.
    pub async fn open(config: &Config) -> Result<Backends, Error> {
        if config.redis.is_some() && !is_postgres_url(&config.db) {
            return Err(Error::Cluster(
                "--redis needs a PostgreSQL --db (postgres://…) that every node shares; \
                 an SQLite file serves one node"
                    .into(),
            ));
        }
        let store = open_store(&config.db).await?;
        let nonces = LocalNonces::new(config.limits.nonce_cache, now_ms());
        let Some(url) = &config.redis else {
            return Ok(Backends {
                store,
                hub: Arc::new(LocalHub::default()),
                nonces: Arc::new(nonces),
            });
        };
        let node: Arc<str> = Arc::from(config.node_id.clone().unwrap_or_else(random_id));
        let (hub, nonces) = match crate::cluster::join(url, node, nonces).await {
            Ok(joined) => joined,
            Err(e) => {
                store.close().await;
                return Err(Error::Cluster(e));
            }
        };
        Ok(Backends {
            store,
            hub: Arc::new(hub),
            nonces: Arc::new(nonces),
        })
    }
}

/// What the router and the connections share.
pub struct Shared {
    pub service: Arc<Service>,
    /// The configured public WebSocket URL, if any.
    pub public_url: Option<String>,
    pub local_addr: SocketAddr,
}

/// A bound server, not yet accepting.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
    config: Config,
}

impl Server {
    /// Opens the backends `config` names and binds the listening socket.
    pub async fn bind(mut config: Config) -> Result<Server, Error> {
        // One id for the hub and for every session id.
        config.node_id.get_or_insert_with(random_id);
        let backends = Backends::open(&config).await?;
        Server::bind_with(config, backends).await
    }

    /// Binds the listening socket, serving from `backends`.
    pub async fn bind_with(config: Config, backends: Backends) -> Result<Server, Error> {
        let listener = TcpListener::bind(config.listen).await?;
        let node: Arc<str> = Arc::from(config.node_id.clone().unwrap_or_else(random_id));
        let service = Arc::new(Service {
            limits: config.limits.clone(),
            apps: Apps::new(&config.apps, &config.api_keys),
            store: backends.store,
            hub: backends.hub,
            signatures: Signatures::new(config.limits.signature_window, backends.nonces),
            node,
        });
        let shared = Arc::new(Shared {
            service,
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
        let service = shared.service.clone();
        let dispatcher = service.start_dispatcher();
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
                    if let Some((ws, dialect)) = ws {
                        tracing::debug!("websocket open");
                        let session = SessionId {
                            node: shared.service.node.clone(),
                            conn: id,
                        };
                        connection::serve(ws, dialect, shared.service.clone(), session, stopped)
                            .await;
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
        service.store.close().await;
        // The commit stream ends with the store.
        let _ = dispatcher.await;
        Ok(())
    }

    /// Runs the server on the current runtime; the handle stops it.
    pub fn spawn(self) -> ServerHandle {
        let (stop, stopped) = oneshot::channel::<()>();
        let local_addr = self.local_addr();
        let service = self.shared.service.clone();
        let task = tokio::spawn(self.run(async {
            let _ = stopped.await;
        }));
        ServerHandle {
            local_addr,
            service,
            stop,
            task,
        }
    }
}

/// A running server.
pub struct ServerHandle {
    local_addr: SocketAddr,
    service: Arc<Service>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), Error>>,
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The store's work so far.
    pub fn stats(&self) -> &StoreStats {
        self.service.store.stats()
    }

    /// Shuts down gracefully and waits until the store is flushed.
    pub async fn shutdown(self) -> Result<(), Error> {
        let _ = self.stop.send(());
        self.task
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e)))?
    }
}
