//! The connection task: connect (router, then socket), serve the socket until it
//! ends, then reconnect with backoff until the embedder closes. Heartbeat and guard
//! timers are re-armed on every socket; sends made while offline are held (up to a
//! bound) and go out once the next session has opened.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{sleep, sleep_until, Instant};

use crate::backoff::Backoff;
use crate::event::{Event, EventSink};
use crate::frame::{classify, Inbound, Kind};
use crate::inbox::{inbox, Inbox};
use crate::router::{self, Endpoint};
use crate::transport::{Connector, Received, Transport};

/// 2.4.0's default heartbeat interval.
pub const DEFAULT_HEARTBEAT_MS: u64 = 60_000;
/// Silence after which the socket is presumed dead (2.4.0's guard).
const GUARD: Duration = Duration::from_secs(180);
/// How long a closing socket may take to confirm the close.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Sends coalesced into one write.
const MAX_SEND_BATCH: usize = 256;
/// How long released acks may wait for another write to go out with.
const ACK_DELAY: Duration = Duration::from_millis(20);

/// How the engine connects.
#[derive(Clone, Debug)]
pub struct Config {
    pub app_id: String,
    /// The clientId; `None` for an anonymous client, which adopts the server's id.
    pub peer_id: Option<String>,
    pub endpoint: Endpoint,
    /// Ask the router for `wss://` URLs (`&secure=1`).
    pub secure: bool,
    /// Heartbeat interval in ms, read each time the timer is armed.
    pub heartbeat_ms: Arc<AtomicU64>,
    /// The first reconnect delay (2.4.0: 5 s); later ones double, capped.
    pub reconnect_delay: Duration,
    /// How many frames sent while offline are held for the next session.
    pub hold_limit: usize,
}

impl Config {
    pub fn new(app_id: impl Into<String>, peer_id: Option<String>, endpoint: Endpoint) -> Self {
        Config {
            app_id: app_id.into(),
            peer_id,
            endpoint,
            secure: true,
            heartbeat_ms: Arc::new(AtomicU64::new(DEFAULT_HEARTBEAT_MS)),
            reconnect_delay: Duration::from_secs(5),
            hold_limit: 1024,
        }
    }
}

/// What the embedder asks of the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// The `session open` frame, answering [`Event::SocketOpen`]; sent at once.
    OpenSession(String),
    /// Any other frame: sent when a session is open, else held.
    Send(String),
    /// Drop the current socket (if any) and connect again now.
    Reconnect,
    /// Close the current socket as if it were lost: `close`, `reuse`, then a
    /// reconnect after the backoff (2.4.0's `cache.ws.close()`).
    DropSocket,
    /// Stop (`true`) or resume (`false`) reading the socket.
    Pause(bool),
    /// Send this frame if a session is open (`session close`), close the socket, stop.
    Close(Option<String>),
}

pub use crate::inbox::{Handle, Refused, SEND_QUEUE};

/// Creates an engine: the handle, and the task to spawn on a tokio runtime.
pub fn spawn<C: Connector, S: EventSink>(
    config: Config,
    connector: C,
    sink: Arc<S>,
) -> (Handle, impl Future<Output = ()> + Send) {
    let (handle, inbox) = inbox();
    let session = Session {
        peer_id: config.peer_id.clone(),
        backoff: Backoff::new(config.reconnect_delay),
        config,
        connector,
        sink,
        inbox,
        held: VecDeque::new(),
        unacked: VecDeque::new(),
        acks_queued: 0,
        paused: false,
        reuse_announced: false,
        ever_opened: false,
    };
    let task = async move {
        let mut session = session;
        session.run().await
    };
    (handle, task)
}

/// How serving one socket ended.
enum Ended {
    UserClosed,
    Lost,
    Restart,
}

struct Session<C, S> {
    config: Config,
    connector: C,
    sink: Arc<S>,
    inbox: Inbox,
    held: VecDeque<String>,
    /// Acks of frames handed to the embedder, numbered, until it has dispatched them.
    unacked: VecDeque<(u64, String)>,
    /// How many acks were ever queued: the number of the last one.
    acks_queued: u64,
    /// The embedder asked to stop reading.
    paused: bool,
    peer_id: Option<String>,
    backoff: Backoff,
    /// `reuse` was emitted for the current outage.
    reuse_announced: bool,
    /// A session opened at least once.
    ever_opened: bool,
}

/// What to do after a command arrived while no socket is open.
enum Offline {
    Continue,
    ConnectNow,
    Stop,
}

impl<C: Connector, S: EventSink> Session<C, S> {
    // Every idle connection holds this task's state, so its size matters: the
    // session and the socket are borrowed, not moved, into the futures awaited here
    // (a moved argument is stored twice), and the large, rarely live futures (the
    // handshake, a read's handling) are boxed.
    async fn run(&mut self) {
        loop {
            match self.connect().await {
                Ok(Some(mut transport)) => match self.serve(&mut *transport).await {
                    Ended::UserClosed => return,
                    Ended::Restart => continue,
                    Ended::Lost => self.announce_reuse().await,
                },
                Ok(None) => return,
                Err(message) => self.sink.push(Event::Error(message)).await,
            }
            let keep_alive = self.ever_opened;
            self.sink.push(Event::Backoff { keep_alive }).await;
            let wake = sleep(self.backoff.next_delay());
            tokio::pin!(wake);
            loop {
                tokio::select! {
                    _ = &mut wake => break,
                    command = self.inbox.recv() => match self.offline(command).await {
                        Offline::Continue => {}
                        Offline::ConnectNow => break,
                        Offline::Stop => return,
                    },
                }
            }
        }
    }

    async fn announce_reuse(&mut self) {
        if !self.reuse_announced {
            self.reuse_announced = true;
            self.sink.push(Event::Reuse).await;
        }
    }

    /// Router lookup and socket connect, while still taking commands.
    /// `Ok(None)`: the embedder closed meanwhile.
    /// The socket comes boxed, so that only a pointer to it is moved around.
    async fn connect(&mut self) -> Result<Option<Box<C::Transport>>, String> {
        let Session {
            config,
            connector,
            inbox,
            held,
            sink,
            paused,
            ..
        } = self;
        sink.push(Event::Connecting).await;
        let config = &*config;
        // Boxed: the handshake futures are large and live only while connecting, so
        // they need not make every idle connection's task bigger.
        let mut attempt = Box::pin(async move {
            let url = router::resolve(&config.endpoint, &config.app_id, config.secure).await?;
            connector.connect(&url).await
        });
        loop {
            tokio::select! {
                result = &mut attempt => return result.map(|t| Some(Box::new(t))),
                command = inbox.recv() => {
                    let offline = hold_offline(command, held, paused, config, &**sink).await;
                    if let Offline::Stop = offline {
                        return Ok(None);
                    }
                }
            }
        }
    }

    async fn offline(&mut self, command: Option<Command>) -> Offline {
        let Session {
            held,
            paused,
            config,
            sink,
            ..
        } = self;
        hold_offline(command, held, paused, config, &**sink).await
    }

    /// Runs one open socket until it ends.
    async fn serve(&mut self, t: &mut C::Transport) -> Ended {
        // Acks of an earlier socket's frames (that session's messages come again),
        // and a `session open` meant for it.
        self.unacked.clear();
        self.inbox.forget_session_open();
        self.sink.push(Event::SocketOpen).await;
        let mut opened = false;
        let mut last_inbound = Instant::now();
        let mut heartbeat_armed = true;
        let mut batch = Vec::new();
        // When acks still to send are next looked at.
        let mut ack_due: Option<Instant> = None;
        loop {
            let heartbeat = Duration::from_millis(self.config.heartbeat_ms.load(Ordering::Relaxed));
            let reading = !self.paused;
            if ack_due.is_none() && !self.unacked.is_empty() {
                ack_due = Some(Instant::now() + ACK_DELAY);
            }
            let command = tokio::select! {
                _ = t.recv_batch(&mut batch), if reading => {
                    last_inbound = Instant::now();
                    heartbeat_armed = true;
                    let handled = Box::pin(self.on_batch(t, &mut batch, &mut opened));
                    if let Some(ended) = handled.await {
                        return ended;
                    }
                    continue;
                }
                _ = sleep_until(ack_due.unwrap_or_else(Instant::now)), if ack_due.is_some() => {
                    ack_due = None;
                    let sent = match self.feed_released_acks(t).await {
                        Ok(true) => t.flush().await,
                        other => other.map(|_| ()),
                    };
                    if let Err(e) = sent {
                        return self.lost(t, e).await;
                    }
                    continue;
                }
                command = self.inbox.recv() => command,
                _ = sleep_until(last_inbound + heartbeat), if heartbeat_armed => {
                    heartbeat_armed = false;
                    if let Err(e) = send_now(t, "{}".to_owned()).await {
                        return self.lost(t, e).await;
                    }
                    continue;
                }
                // Silence the embedder asked for is no sign of a dead link.
                _ = sleep_until(last_inbound + GUARD), if reading => {
                    self.announce_reuse().await;
                    self.shut(t, false).await;
                    return Ended::Lost;
                }
            };
            let result = match command {
                None | Some(Command::Close(None)) => {
                    self.shut(t, true).await;
                    return Ended::UserClosed;
                }
                Some(Command::Close(Some(frame))) => {
                    if opened {
                        // Sends queued before `close()` go first. Bounded: `close()`
                        // must finish against a peer that stopped reading.
                        let last = self.send_queued_then(t, frame);
                        let _ = tokio::time::timeout(CLOSE_WAIT, last).await;
                    }
                    self.shut(t, true).await;
                    return Ended::UserClosed;
                }
                Some(Command::Reconnect) => {
                    self.shut(t, false).await;
                    return Ended::Restart;
                }
                Some(Command::DropSocket) => {
                    // Reported as `ws` 0.8 reports a close without a code: 1000.
                    self.shut(t, true).await;
                    return Ended::Lost;
                }
                Some(Command::OpenSession(frame)) => send_now(t, frame).await,
                Some(Command::Send(frame)) if opened => self.send_coalesced(t, frame).await,
                Some(Command::Send(frame)) => {
                    self.hold(frame).await;
                    Ok(())
                }
                Some(Command::Pause(paused)) => {
                    if self.paused && !paused {
                        last_inbound = Instant::now();
                    }
                    self.paused = paused;
                    Ok(())
                }
            };
            if let Err(e) = result {
                return self.lost(t, e).await;
            }
        }
    }

    /// Sends `first` and every send already queued behind it with one flush.
    async fn send_coalesced(&mut self, t: &mut C::Transport, first: String) -> Result<(), String> {
        t.feed(first).await?;
        for _ in 1..MAX_SEND_BATCH {
            match self.inbox.try_frame() {
                Some(frame) => t.feed(frame).await?,
                None => break,
            }
        }
        t.flush().await
    }

    /// Sends the released acks and every queued send, then `last`, with one flush.
    async fn send_queued_then(&mut self, t: &mut C::Transport, last: String) -> Result<(), String> {
        self.feed_released_acks(t).await?;
        while let Some(frame) = self.inbox.try_frame() {
            t.feed(frame).await?;
        }
        send_now(t, last).await
    }

    /// Queues the acks the embedder has released; `true` if there were any.
    async fn feed_released_acks(&mut self, t: &mut C::Transport) -> Result<bool, String> {
        let upto = self.inbox.released_acks();
        let mut fed = false;
        while self.unacked.front().is_some_and(|(n, _)| *n <= upto) {
            if let Some((_, ack)) = self.unacked.pop_front() {
                t.feed(ack).await?;
                fed = true;
            }
        }
        Ok(fed)
    }

    /// Handles one read: sends the acks released meanwhile, hands the frames over,
    /// then an [`Event::Acks`] marker; their acks go out (one write for all) once the
    /// embedder has dispatched the frames, with the next write or on the ack timer.
    async fn on_batch(
        &mut self,
        t: &mut C::Transport,
        batch: &mut Vec<Received>,
        opened: &mut bool,
    ) -> Option<Ended> {
        let mut events = Vec::with_capacity(batch.len() + 1);
        let mut acks = false;
        let mut ended = None;
        let (mut wrote, mut failure) = match self.feed_released_acks(t).await {
            Ok(fed) => (fed, None),
            Err(e) => (false, Some(e)),
        };
        let mut items = batch.drain(..);
        for received in items.by_ref() {
            let text = match received {
                Received::Text(text) => text,
                Received::Closed { code, reason } => {
                    events.push(Event::Close { code, reason });
                    ended = Some(Ended::Lost);
                    break;
                }
            };
            let (kind, ack) = match classify(&text) {
                Inbound::Frame { kind, ack } => (kind, ack),
                Inbound::Silent => continue,
                Inbound::Invalid => {
                    let shown: String = text.chars().take(200).collect();
                    events.push(Event::Error(format!("unparsable frame: {shown}")));
                    continue;
                }
            };
            if let Some(ack) = ack {
                self.acks_queued += 1;
                let frame = ack.frame(self.peer_id.as_deref());
                self.unacked.push_back((self.acks_queued, frame));
                acks = true;
            }
            let session_closed = matches!(kind, Kind::SessionClosed { reply: false });
            if let Kind::SessionOpened { peer_id } = kind {
                *opened = true;
                self.ever_opened = true;
                self.backoff.reset();
                self.reuse_announced = false;
                if self.peer_id.is_none() {
                    self.peer_id = peer_id;
                }
                for frame in std::mem::take(&mut self.held) {
                    failure = failure.or(t.feed(frame).await.err());
                    wrote = true;
                }
            }
            events.push(Event::Frame(text));
            if session_closed {
                // The server ended the session: 2.4.0 emits `reuse` right after it.
                self.reuse_announced = true;
                events.push(Event::Reuse);
                ended = Some(Ended::Lost);
                // The server's close (same code) usually came in the same read.
                if let Some(Received::Closed { code, reason }) =
                    items.find(|r| matches!(r, Received::Closed { .. }))
                {
                    events.push(Event::Close { code, reason });
                }
                break;
            }
        }
        drop(items);
        if acks && ended.is_none() {
            events.push(Event::Acks(self.acks_queued));
        }
        if wrote {
            failure = failure.or(t.flush().await.err());
        }
        let socket_gone = matches!(events.last(), Some(Event::Close { .. }));
        for event in events {
            self.sink.push(event).await;
        }
        match (ended, failure) {
            (Some(ended), _) if socket_gone => Some(ended),
            (Some(ended), _) => {
                self.shut(t, false).await;
                Some(ended)
            }
            (None, Some(e)) => Some(self.lost(t, e).await),
            (None, None) => None,
        }
    }

    /// A write failed: the socket is unusable.
    async fn lost(&mut self, t: &mut C::Transport, error: String) -> Ended {
        t.close().await;
        self.sink
            .push(Event::Close {
                code: 1006,
                reason: error,
            })
            .await;
        Ended::Lost
    }

    /// Closes the socket, waits (bounded) for the close to complete, reports it.
    /// A close the embedder asked for is reported as a normal close (1000), as 2.4.0
    /// observes it, however the server ends the connection.
    async fn shut(&mut self, t: &mut C::Transport, by_user: bool) {
        t.close().await;
        let mut batch = Vec::new();
        let closed = tokio::time::timeout(CLOSE_WAIT, async {
            loop {
                t.recv_batch(&mut batch).await;
                if let Some(Received::Closed { code, reason }) = batch.pop() {
                    return (code, reason);
                }
                batch.clear();
            }
        })
        .await;
        let (code, reason) = match closed {
            _ if by_user => (1000, String::new()),
            Ok(closed) => closed,
            Err(_) => (1006, String::new()),
        };
        self.sink.push(Event::Close { code, reason }).await;
    }

    async fn hold(&mut self, frame: String) {
        hold_frame(frame, &mut self.held, &self.config, &*self.sink).await;
    }
}

async fn send_now<T: Transport>(t: &mut T, frame: String) -> Result<(), String> {
    t.feed(frame).await?;
    t.flush().await
}

/// Keeps a frame for the next session, or reports it dropped past the bound.
async fn hold_frame<S: EventSink>(
    frame: String,
    held: &mut VecDeque<String>,
    config: &Config,
    sink: &S,
) {
    if held.len() < config.hold_limit {
        held.push_back(frame);
    } else {
        sink.push(Event::Dropped(frame)).await;
    }
}

/// A command while no socket is open.
async fn hold_offline<S: EventSink>(
    command: Option<Command>,
    held: &mut VecDeque<String>,
    paused: &mut bool,
    config: &Config,
    sink: &S,
) -> Offline {
    match command {
        None | Some(Command::Close(_)) => Offline::Stop,
        Some(Command::Reconnect) => Offline::ConnectNow,
        // A session open for a socket that is gone already, or no socket to drop.
        Some(Command::OpenSession(_) | Command::DropSocket) => Offline::Continue,
        Some(Command::Pause(p)) => {
            *paused = p;
            Offline::Continue
        }
        Some(Command::Send(frame)) => {
            hold_frame(frame, held, config, sink).await;
            Offline::Continue
        }
    }
}
