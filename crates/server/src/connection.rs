//! One WebSocket connection: reads frames and dispatches them, writes replies and
//! queued pushes, and closes with a code when asked to (shutdown, slow consumer,
//! protocol violations).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use leanrt_protocol::ErrorCode;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch, Notify};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::cmd::{self, direct};
use crate::frame::{Failure, Request};
use crate::hub::{addressed, ConnId, Hub, Kill, Outbox, Queued};
use crate::shared::Shared;

/// Close code of a server shutdown (going away).
const GOING_AWAY: u16 = 1001;
/// Longest a chunk of writes may make no progress before the peer counts as a slow
/// consumer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the peer's close frame after sending ours.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Queued pushes written per flush.
const WRITE_BATCH: usize = 64;
/// Messages of one connection waiting for their commit; beyond, reading pauses.
const MAX_PENDING: usize = 1024;
/// Frames waiting behind a write in progress; beyond, reading pauses.
const MAX_BACKLOG: usize = 4096;

/// The logged-in identity of a connection.
pub struct Session {
    pub client: String,
    pub app_id: String,
    /// Set when the app enforces signatures.
    pub master_key: Option<String>,
}

/// A token bucket allowing `rate` frames per second with one second of burst.
pub struct RateLimit {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    fn new(rate: u32) -> Self {
        RateLimit {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: Instant::now(),
        }
    }

    /// Takes a token if one is left. A rate of 0 means no limit.
    pub fn allow(&mut self) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Per-connection state seen by command handlers.
pub struct Conn {
    pub id: ConnId,
    pub shared: Arc<Shared>,
    pub session: Option<Session>,
    /// This connection's queue, as registered in the hub.
    pub outbox: Outbox,
    /// Frames for this connection produced by the current request, written in order
    /// before any queued push.
    out: Vec<Utf8Bytes>,
    /// Set by a handler to close the connection with this code after writing `out`.
    pub close: Option<u16>,
    /// Messages being committed, oldest first; the store completes them in order.
    pub pending: VecDeque<direct::Pending>,
    pub rate: RateLimit,
    /// The commit horizon of the session's offline snapshot: queued live `direct`s of
    /// messages committed up to it are dropped (the snapshot covered them).
    pub horizon: i64,
}

impl Conn {
    /// The session, or 4105 if there is none.
    pub fn session(&self) -> Result<&Session, Failure> {
        self.session
            .as_ref()
            .ok_or_else(|| ErrorCode::SessionRequired.into())
    }

    /// Sends a frame to this connection, with `peerId` once there is a session.
    pub fn send(&mut self, frame: Value) {
        let Value::Object(frame) = frame else {
            return;
        };
        let text = match &self.session {
            Some(s) => addressed(&frame, &s.client),
            None => Utf8Bytes::from(Value::Object(frame).to_string()),
        };
        self.out.push(text);
    }

    /// The frames produced so far, ready to write.
    fn take_out(&mut self) -> Vec<Message> {
        self.out.drain(..).map(Message::Text).collect()
    }

    pub fn send_text(&mut self, text: Utf8Bytes) {
        self.out.push(text);
    }

    /// Sends a reply, echoing the request's `i`.
    pub fn reply(&mut self, req: &Request, frame: Value) {
        self.reply_to(req.i.as_ref(), frame);
    }

    /// Sends a reply carrying `i`, if any.
    pub fn reply_to(&mut self, i: Option<&Value>, mut frame: Value) {
        if let (Some(i), Value::Object(map)) = (i, &mut frame) {
            map.insert("i".into(), i.clone());
        }
        self.send(frame);
    }

    /// An error frame (§6.9 form 1).
    pub fn fail(&mut self, i: Option<&Value>, failure: Failure) {
        let mut frame = json!({
            "cmd": "error", "code": failure.code.code(), "reason": failure.code.reason(),
        });
        if let Some(i) = i {
            frame["i"] = i.clone();
        }
        if let Some(detail) = failure.detail {
            frame["detail"] = Value::String(detail);
        }
        self.send(frame);
    }

    /// An error ack for `direct` (§6.9 form 2).
    pub fn fail_ack(&mut self, i: Option<&Value>, failure: Failure) {
        let mut frame = json!({
            "cmd": "ack", "code": failure.code.code(), "reason": failure.code.reason(),
        });
        if let Some(detail) = failure.detail {
            frame["detail"] = Value::String(detail);
        }
        self.reply_to(i, frame);
    }
}

/// Unregisters the connection from the hub however its task ends, panics included.
struct Registration {
    hub: Arc<dyn Hub>,
    id: ConnId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.unregister(self.id);
    }
}

fn close_reason(code: u16) -> &'static str {
    match ErrorCode::from_code(code) {
        Some(c) => c.reason(),
        None if code == GOING_AWAY => "SERVER_SHUTDOWN",
        None => "",
    }
}

/// What an inbound WebSocket message leads to.
enum Inbound {
    /// Frames to write.
    Write(Vec<Message>),
    Ignore,
    /// The peer sent a close frame.
    PeerClosed,
    /// The connection ends, with a close code to send if any.
    End(Option<u16>),
}

async fn on_inbound(conn: &mut Conn, inbound: Option<Result<Message, WsError>>) -> Inbound {
    match inbound {
        None => Inbound::End(None),
        Some(Ok(Message::Close(_))) => Inbound::PeerClosed,
        Some(Ok(Message::Text(text))) => {
            // Boxed: the handlers' state exists only while a request runs.
            Box::pin(cmd::dispatch(conn, &text)).await;
            Inbound::Write(conn.take_out())
        }
        Some(Ok(Message::Binary(_))) => {
            conn.fail(None, Failure::bad("binary frames are not supported"));
            Inbound::Write(conn.take_out())
        }
        Some(Ok(_)) => Inbound::Ignore,
        Some(Err(WsError::Capacity(_))) => Inbound::End(Some(ErrorCode::FrameTooLong.code())),
        Some(Err(e)) => {
            tracing::debug!(error = %e, "read failed");
            Inbound::End(None)
        }
    }
}

/// The write half of a connection's WebSocket.
type Sink<S> = SplitSink<WebSocketStream<S>, Message>;
/// How a write ended: `Err` when a chunk of it made no progress for [`WRITE_TIMEOUT`].
type Written = Result<Result<(), WsError>, tokio::time::error::Elapsed>;
/// A write in progress; it owns the sink and hands it back.
type Writing<S> = BoxFuture<'static, (Sink<S>, Written)>;

/// Writes `frames` in chunks, giving up only when a chunk makes no progress for
/// [`WRITE_TIMEOUT`]: a long offline push to a slow reader is not a stalled reader.
/// `abandon` ends it at once (the rest unwritten), handing the sink back for the close.
async fn write_all<S>(
    mut sink: Sink<S>,
    frames: Vec<Message>,
    abandon: Arc<Notify>,
) -> (Sink<S>, Written)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut frames = frames.into_iter().peekable();
    while frames.peek().is_some() {
        let chunk = async {
            for msg in frames.by_ref().take(WRITE_BATCH) {
                sink.feed(msg).await?;
            }
            sink.flush().await
        };
        let written = tokio::select! {
            written = tokio::time::timeout(WRITE_TIMEOUT, chunk) => written,
            () = abandon.notified() => break,
        };
        if !matches!(written, Ok(Ok(()))) {
            return (sink, written);
        }
    }
    (sink, Ok(Ok(())))
}

/// Waits for the write in progress, if any, without taking it, so that the wait can be
/// cancelled by `select!`.
async fn poll_writing<S>(writing: &mut Option<Writing<S>>) -> (Sink<S>, Written) {
    match writing {
        Some(write) => write.await,
        None => std::future::pending().await,
    }
}

/// The sink once any write in progress has finished (bounded by [`CLOSE_TIMEOUT`]),
/// or been abandoned; `None` if it did not finish.
async fn settle<S>(
    sink: &mut Option<Sink<S>>,
    writing: &mut Option<Writing<S>>,
    abandon: Option<&Notify>,
) -> Option<Sink<S>> {
    if let Some(write) = writing.take() {
        if let Some(abandon) = abandon {
            abandon.notify_one();
        }
        if let Ok((done, _)) = tokio::time::timeout(CLOSE_TIMEOUT, write).await {
            *sink = Some(done);
        }
    }
    sink.take()
}

/// Waits for the oldest pending message without taking it out of the queue, so that
/// the wait can be cancelled by `select!`.
async fn poll_oldest(pending: &mut VecDeque<direct::Pending>) -> direct::Stored {
    match pending.front_mut() {
        Some(oldest) => oldest.await,
        None => std::future::pending().await,
    }
}

/// Runs a connection until either side closes it or the server shuts down.
pub async fn serve<S>(
    ws: WebSocketStream<S>,
    shared: Arc<Shared>,
    id: ConnId,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sink, mut stream) = ws.split();
    // The sink is here when no write is in progress, else inside `writing`.
    let mut sink = Some(sink);
    let mut writing: Option<Writing<S>> = None;
    // Ends the write in progress when the peer is given up on (slow or silent).
    let abandon = Arc::new(Notify::new());
    let mut given_up = false;
    // Frames produced while a write is in progress, written next.
    let mut backlog: Vec<Message> = Vec::new();
    let (frames, mut queue) = mpsc::channel(shared.limits.outbound_queue.max(1));
    let kill = Arc::new(Kill::default());
    let _registration = Registration {
        hub: shared.hub.clone(),
        id,
    };
    let mut conn = Conn {
        id,
        rate: RateLimit::new(shared.limits.frames_per_second),
        shared,
        session: None,
        outbox: Outbox {
            frames,
            kill: kill.clone(),
        },
        out: Vec::new(),
        close: None,
        pending: VecDeque::new(),
        horizon: 0,
    };
    // Liveness: a WebSocket ping after a quiet interval; a second quiet interval closes.
    let ping_interval = conn.shared.limits.ping_interval;
    let idle = tokio::time::sleep(ping_interval);
    tokio::pin!(idle);
    let mut pinged = false;
    let close_code = if *shutdown.borrow() {
        Some(GOING_AWAY)
    } else {
        // Reading goes on while a write is in progress, so that a peer writing (acks
        // of a long push, say) while it reads is never blocked by this connection.
        loop {
            if writing.is_none() && !backlog.is_empty() {
                if let Some(idle_sink) = sink.take() {
                    let frames = std::mem::take(&mut backlog);
                    writing = Some(Box::pin(write_all(idle_sink, frames, abandon.clone())));
                }
            }
            if writing.is_none() {
                if let Some(code) = conn.close.take() {
                    break Some(code);
                }
            }
            let produced: Vec<Message> = tokio::select! {
                biased;
                _ = shutdown.changed() => break Some(GOING_AWAY),
                code = kill.requested() => {
                    given_up = true;
                    break Some(code);
                }
                (idle_sink, written) = poll_writing(&mut writing) => {
                    writing = None;
                    sink = Some(idle_sink);
                    match written {
                        Ok(Ok(())) => continue,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "write failed");
                            break None;
                        }
                        Err(_) => break Some(ErrorCode::SlowConsumer.code()),
                    }
                }
                () = &mut idle => {
                    if pinged {
                        given_up = true;
                        break Some(ErrorCode::ReadTimeout.code());
                    }
                    pinged = true;
                    idle.as_mut().reset(tokio::time::Instant::now() + ping_interval);
                    vec![Message::Ping(Default::default())]
                }
                stored = poll_oldest(&mut conn.pending), if !conn.pending.is_empty() => {
                    conn.pending.pop_front();
                    direct::stored(&mut conn, stored);
                    conn.take_out()
                }
                inbound = stream.next(), if conn.pending.len() < MAX_PENDING
                    && backlog.len() < MAX_BACKLOG
                    && conn.close.is_none() =>
                {
                    if let Some(Ok(_)) = &inbound {
                        pinged = false;
                        idle.as_mut().reset(tokio::time::Instant::now() + ping_interval);
                    }
                    match on_inbound(&mut conn, inbound).await {
                        Inbound::Write(frames) => frames,
                        Inbound::Ignore => continue,
                        Inbound::PeerClosed => {
                            // Writes the close reply tungstenite queued: a clean close.
                            if let Some(mut s) = settle(&mut sink, &mut writing, None).await {
                                let _ = tokio::time::timeout(CLOSE_TIMEOUT, s.flush()).await;
                            }
                            break None;
                        }
                        Inbound::End(code) => break code,
                    }
                }
                // Taken only while little waits to be written, so that a peer that does
                // not read fills its queue, and the hub closes it (4117).
                Some(first) = queue.recv(), if backlog.len() < WRITE_BATCH => {
                    let horizon = conn.horizon;
                    let fresh = |q: Queued| match q.commit {
                        Some(commit) if commit <= horizon => None,
                        _ => Some(Message::Text(q.text)),
                    };
                    let mut batch: Vec<Message> = fresh(first).into_iter().collect();
                    while batch.len() < WRITE_BATCH {
                        match queue.try_recv() {
                            Ok(frame) => batch.extend(fresh(frame)),
                            Err(_) => break,
                        }
                    }
                    batch
                }
            };
            backlog.extend(produced);
        }
    };
    let mut sink = settle(&mut sink, &mut writing, given_up.then_some(&*abandon)).await;
    // Offline from now on, even while the close handshake is pending.
    conn.shared.hub.unregister(id);
    if close_code == Some(GOING_AWAY) && !conn.pending.is_empty() {
        // Shutting down: answer the messages already being committed.
        let drain = async {
            while let Some(oldest) = conn.pending.pop_front() {
                let stored = oldest.await;
                direct::stored(&mut conn, stored);
            }
            let sink = sink.as_mut().ok_or(WsError::AlreadyClosed)?;
            for msg in backlog.drain(..).chain(conn.take_out()) {
                sink.feed(msg).await?;
            }
            sink.flush().await
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, drain).await;
    }
    if let (Some(code), Some(sink)) = (close_code, sink.as_mut()) {
        tracing::debug!(code, "closing");
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: close_reason(code).into(),
        };
        let closing = async {
            sink.send(Message::Close(Some(frame))).await?;
            while let Some(Ok(msg)) = stream.next().await {
                if msg.is_close() {
                    break;
                }
            }
            Ok::<_, WsError>(())
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
    }
}
