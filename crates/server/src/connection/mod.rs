//! One WebSocket connection: reads frames and hands them to the JSON dialect, runs
//! its request, its committing messages and its login push beside each other,
//! writes replies and pushes, and closes with a code when asked to (shutdown, slow
//! consumer, protocol violations).
//!
//! Nothing here waits on the store in line: a request, the messages being
//! committed and the pages of a login push are futures polled beside the socket, so
//! the outbound queue keeps draining whatever the store does.

mod conn;
mod delivered;
mod login;
mod subsessions;
mod write;

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::{FutureExt, SinkExt, StreamExt};
use leanrt_protocol::ErrorCode;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{watch, Notify};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

pub use conn::{Conn, PendingDirect, Then};
use conn::{PageRead, Task};
use write::{poll_writing, settle, write_all, Writing, CLOSE_TIMEOUT, WRITE_BATCH};

use leanrt_protocol::v3::Subprotocol;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::domain::SessionId;
use crate::hub::Outbox;
use crate::json;
use crate::service::{Failure, Service, SessionCtx};
use crate::v3;

/// Close code of a server shutdown (going away).
const GOING_AWAY: u16 = 1001;
/// Messages of one connection waiting for their commit; beyond, reading pauses.
const MAX_PENDING: usize = 1024;
/// Frames waiting behind a write in progress; beyond, reading pauses.
const MAX_BACKLOG: usize = 4096;
/// Frames handled per wake-up when more are already read.
const READ_BATCH: usize = 64;

fn close_reason(code: u16) -> &'static str {
    match ErrorCode::from_code(code) {
        Some(c) => c.reason(),
        None if code == GOING_AWAY => "SERVER_SHUTDOWN",
        None => "",
    }
}

/// Detaches the session however the connection's task ends, panics included.
struct Registration {
    service: Arc<Service>,
    id: SessionId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let (service, id) = (self.service.clone(), self.id.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { service.close(&id).await });
        }
    }
}

/// What an inbound WebSocket message leads to.
enum Inbound {
    Handled,
    /// The peer sent a close frame.
    PeerClosed,
    /// The connection ends, with a close code to send if any.
    End(Option<u16>),
}

/// The wire dialect of a connection, chosen by the subprotocol at the upgrade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// v2 JSON text frames (no subprotocol).
    Json,
    /// v3 protobuf (`lc.protobuf2.*` / `lc.proto2base64.*`).
    V3(Subprotocol),
}

impl Dialect {
    /// A frame of v2 JSON text as this dialect writes it; `None` when it has no
    /// form here (logged).
    pub fn frame(self, text: Utf8Bytes, session: Option<&SessionCtx>) -> Option<Message> {
        match self {
            Dialect::Json => Some(Message::Text(text)),
            Dialect::V3(protocol) => v3::outbound(protocol, &text, session),
        }
    }
}

fn on_inbound(conn: &mut Conn, inbound: Option<Result<Message, WsError>>) -> Inbound {
    match inbound {
        None => Inbound::End(None),
        Some(Ok(Message::Close(_))) => Inbound::PeerClosed,
        Some(Ok(Message::Text(text))) => {
            match conn.dialect {
                Dialect::Json => json::dispatch(conn, &text),
                Dialect::V3(_) => v3::dispatch_text(conn, &text),
            }
            Inbound::Handled
        }
        Some(Ok(Message::Binary(bytes))) if matches!(conn.dialect, Dialect::V3(_)) => {
            v3::dispatch(conn, &bytes);
            Inbound::Handled
        }
        Some(Ok(Message::Binary(_))) => {
            let bad = Failure::with(ErrorCode::InternalError, "binary frames are not supported");
            conn.fail(None, bad);
            Inbound::Handled
        }
        Some(Ok(_)) => Inbound::Handled,
        Some(Err(WsError::Capacity(_))) => Inbound::End(Some(ErrorCode::FrameTooLong.code())),
        Some(Err(e)) => {
            tracing::debug!(error = %e, "read failed");
            Inbound::End(None)
        }
    }
}

/// Waits for the oldest committing message without taking it out of the queue, so
/// that the wait can be cancelled by `select!`.
async fn poll_oldest(
    pending: &mut VecDeque<PendingDirect>,
) -> Result<Arc<crate::domain::StoredMessage>, Failure> {
    match pending.front_mut() {
        Some(oldest) => (&mut oldest.appending).await,
        None => std::future::pending().await,
    }
}

async fn poll_request(request: &mut Option<Task>) -> Then {
    match request {
        Some(task) => task.await,
        None => std::future::pending().await,
    }
}

async fn poll_page(page: &mut Option<PageRead>) -> conn::Read {
    match page {
        Some(read) => read.await,
        None => std::future::pending().await,
    }
}

/// Runs a connection until either side closes it or the server shuts down.
pub async fn serve<S>(
    ws: WebSocketStream<S>,
    dialect: Dialect,
    service: Arc<Service>,
    id: SessionId,
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
    let outbox = Outbox::new(service.limits.outbound_queue);
    let _registration = Registration {
        service: service.clone(),
        id: id.clone(),
    };
    let mut conn = Conn::new(id.clone(), service.clone(), outbox.clone(), dialect);
    // Liveness: a WebSocket ping after a quiet interval; a second quiet interval closes.
    let ping_interval = service.limits.ping_interval;
    let idle = tokio::time::sleep(ping_interval);
    tokio::pin!(idle);
    let mut pinged = false;
    let close_code = if *shutdown.borrow() {
        Some(GOING_AWAY)
    } else {
        // Reading goes on while a write is in progress, so that a peer writing (acks
        // of a long push, say) while it reads is never blocked by this connection.
        loop {
            if conn.request.is_none() && conn.pending.is_empty() {
                if let Some((i, command)) = conn.deferred.take() {
                    json::run(&mut conn, i, command);
                }
            }
            // The next page is read while at most two wait to be written.
            if backlog.len() < 2 * login::PAGE {
                conn.read_page();
            }
            backlog.extend(conn.take_out());
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
            let reading = conn.request.is_none()
                && conn.deferred.is_none()
                && conn.pending.len() < MAX_PENDING
                && backlog.len() < MAX_BACKLOG
                && conn.close.is_none();
            tokio::select! {
                biased;
                _ = shutdown.changed() => break Some(GOING_AWAY),
                code = outbox.killed() => {
                    given_up = true;
                    break Some(code);
                }
                (idle_sink, written) = poll_writing(&mut writing) => {
                    writing = None;
                    sink = Some(idle_sink);
                    match written {
                        Ok(Ok(())) => {}
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
                    backlog.push(Message::Ping(Default::default()));
                }
                stored = poll_oldest(&mut conn.pending), if !conn.pending.is_empty() => {
                    let done = conn.pending.pop_front().map(|p| p.i);
                    conn.stored(done.flatten(), stored);
                }
                then = poll_request(&mut conn.request), if conn.request.is_some() => {
                    conn.request = None;
                    then(&mut conn);
                }
                read = poll_page(&mut conn.page), if conn.page.is_some() => {
                    conn.page = None;
                    conn.on_read(read);
                }
                inbound = stream.next(), if reading => {
                    let mut inbound = Some(inbound);
                    let mut handled = 0;
                    let ended = loop {
                        let Some(next) = inbound.take() else { break None };
                        if let Some(Ok(_)) = &next {
                            pinged = false;
                        }
                        match on_inbound(&mut conn, next) {
                            Inbound::Handled => {}
                            Inbound::PeerClosed => break Some(None),
                            Inbound::End(code) => break Some(Some(code)),
                        }
                        handled += 1;
                        // More frames already read are handled now: their acks go
                        // to the store together.
                        let more = handled < READ_BATCH
                            && conn.request.is_none()
                            && conn.deferred.is_none()
                            && conn.close.is_none()
                            && conn.pending.len() < MAX_PENDING;
                        if more {
                            inbound = stream.next().now_or_never();
                        }
                    };
                    idle.as_mut().reset(tokio::time::Instant::now() + ping_interval);
                    conn.flush_acks();
                    match ended {
                        None => {}
                        Some(None) => {
                            // Writes the close reply tungstenite queued: a clean close.
                            if let Some(mut s) = settle(&mut sink, &mut writing, None).await {
                                let _ = tokio::time::timeout(CLOSE_TIMEOUT, s.flush()).await;
                            }
                            break None;
                        }
                        Some(Some(code)) => break code,
                    }
                }
                // Taken only while little waits to be written, so that a peer that does
                // not read fills its queue, and the outbox closes it (4117). A login
                // that is still attaching leaves its pushes queued.
                () = outbox.ready(), if backlog.len() < WRITE_BATCH && !conn.opening => {
                    conn.drain_outbox();
                }
                Some(frame) = conn.subs.next(), if backlog.len() < MAX_BACKLOG => {
                    backlog.push(frame);
                }
            }
        }
    };
    let mut sink = settle(&mut sink, &mut writing, given_up.then_some(&*abandon)).await;
    // Offline from now on, even while the close handshake is pending.
    service.close(&id).await;
    if close_code == Some(GOING_AWAY) && !conn.pending.is_empty() {
        // Shutting down: answer the messages already being committed.
        let drain = async {
            while let Some(oldest) = conn.pending.pop_front() {
                let stored = oldest.appending.await;
                conn.stored(oldest.i, stored);
            }
            let sink = sink.as_mut().ok_or(WsError::AlreadyClosed)?;
            for msg in backlog.drain(..).chain(conn.take_out().collect::<Vec<_>>()) {
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
        let notice = json::closing_notice(code).and_then(|n| conn.frame(&n));
        let closing = async {
            if let Some(notice) = notice {
                sink.send(notice).await?;
            }
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
