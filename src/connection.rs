//! `Connection`: the native half of one RealtimeObject.

use std::sync::Arc;
use std::time::Duration;

use leanrt_client::foreign::{ForeignConnector, ForeignHub};
use leanrt_client::router::{default_router, Endpoint};
use leanrt_client::{Command, Config, Handle, NativeConnector, Refused};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::queue::EventHub;
use crate::HEARTBEAT_MS;

/// How to connect, as index.js resolved it from the options and the environment.
#[napi(object)]
pub struct ConnectOptions {
    pub app_id: String,
    pub peer_id: Option<String>,
    /// A ws/wss URL: connect directly, skipping the router.
    pub server: Option<String>,
    /// A router base URL; default: LeanCloud's router for `region`.
    pub router: Option<String>,
    pub region: String,
    pub secure: bool,
    /// First reconnect delay in ms (default 5000).
    pub reconnect_delay_ms: Option<u32>,
    /// Drive a JS WebSocket (`realtime.config({WebSocket})`) instead of the native one.
    pub foreign: bool,
}

/// The running engine of one RealtimeObject.
#[napi]
pub struct Connection {
    handle: Handle,
    foreign: Option<Arc<ForeignHub>>,
    id: u32,
}

fn endpoint(options: &ConnectOptions) -> Result<Endpoint> {
    if let Some(server) = &options.server {
        return Ok(Endpoint::Server(server.clone()));
    }
    let router = match &options.router {
        Some(router) => router.clone(),
        None => default_router(&options.region)
            .ok_or_else(|| Error::from_reason("There is no this region."))?
            .to_owned(),
    };
    Ok(Endpoint::Router(router))
}

#[napi]
impl Connection {
    /// Starts connecting at once; its events reach JS through `hub`, under [`Self::id`].
    #[napi(constructor)]
    pub fn new(env: Env, options: ConnectOptions, hub: &EventHub) -> Result<Self> {
        let mut config = Config::new(
            options.app_id.clone(),
            options.peer_id.clone(),
            endpoint(&options)?,
        );
        config.secure = options.secure;
        config.heartbeat_ms = HEARTBEAT_MS.clone();
        if let Some(ms) = options.reconnect_delay_ms {
            config.reconnect_delay = Duration::from_millis(ms.into());
        }
        let sink = Arc::new(hub.sink(&env));
        let id = sink.id();
        if options.foreign {
            let sockets = Arc::new(ForeignHub::default());
            let connector = ForeignConnector::new(sockets.clone(), sink.clone());
            let (handle, task) = leanrt_client::spawn(config, connector, sink);
            spawn(task);
            Ok(Connection {
                handle,
                foreign: Some(sockets),
                id,
            })
        } else {
            let (handle, task) = leanrt_client::spawn(config, NativeConnector, sink);
            spawn(task);
            Ok(Connection {
                handle,
                foreign: None,
                id,
            })
        }
    }

    /// This connection's id in the hub's batches.
    #[napi(getter)]
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Sends the `session open` frame for the socket that just opened.
    #[napi]
    pub fn open_session(&self, frame: String) -> bool {
        self.handle.command(Command::OpenSession(frame)).is_ok()
    }

    /// Sends a frame now, or after the next `session opened` when offline.
    /// 0: queued; 1: the connection is closed; 2: too many sends wait already
    /// (`SEND_QUEUE`), so this one was not sent.
    #[napi]
    pub fn send(&self, frame: String) -> u32 {
        match self.handle.command(Command::Send(frame)) {
            Ok(()) => 0,
            Err(Refused::Stopped) => 1,
            Err(Refused::Full) => 2,
        }
    }

    /// Drops the current socket and connects again at once.
    #[napi]
    pub fn reconnect(&self) -> bool {
        self.handle.command(Command::Reconnect).is_ok()
    }

    /// Closes the current socket as a lost one: `close`, `reuse`, then the
    /// reconnect after the backoff, as 2.4.0's `cache.ws.close()`.
    #[napi]
    pub fn drop_socket(&self) -> bool {
        self.handle.command(Command::DropSocket).is_ok()
    }

    /// Every frame before the `acks` marker `upto` was dispatched: their acks may
    /// go out (with the engine's next write, or within 20 ms).
    #[napi]
    pub fn ack(&self, upto: f64) {
        // Marker numbers count acks of one connection: far below 2^53.
        self.handle.release_acks(upto as u64);
    }

    /// Stops (`true`) or resumes (`false`) reading the socket.
    #[napi]
    pub fn pause(&self, paused: bool) -> bool {
        self.handle.command(Command::Pause(paused)).is_ok()
    }

    /// Sends `frame` (the `session close`) if a session is open, then closes for good.
    #[napi]
    pub fn close(&self, frame: Option<String>) -> bool {
        self.handle.command(Command::Close(frame)).is_ok()
    }

    /// Foreign transport: JS socket `socket` opened.
    #[napi]
    pub fn foreign_open(&self, socket: u32) {
        if let Some(hub) = &self.foreign {
            hub.opened(socket.into());
        }
    }

    /// Foreign transport: JS socket `socket` received `text`.
    #[napi]
    pub fn foreign_message(&self, socket: u32, text: String) {
        if let Some(hub) = &self.foreign {
            hub.message(socket.into(), text);
        }
    }

    /// Foreign transport: JS socket `socket` reported an error.
    #[napi]
    pub fn foreign_error(&self, socket: u32, message: String) {
        if let Some(hub) = &self.foreign {
            hub.error(socket.into(), message);
        }
    }

    /// Foreign transport: JS socket `socket` closed.
    #[napi]
    pub fn foreign_close(&self, socket: u32, code: u32, reason: String) {
        if let Some(hub) = &self.foreign {
            hub.closed(socket.into(), u16::try_from(code).unwrap_or(1006), reason);
        }
    }
}
