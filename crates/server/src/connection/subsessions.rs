//! Sessions beside the first on one v3 socket: each `IMClient` of a JS `Realtime`
//! opens its own session on the shared connection. Each further session runs as a
//! connection of its own over an in-memory WebSocket (its login push, acks, limits
//! and close are its own), and its frames are relayed to the socket here; frames
//! are routed to it by their `peerId`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::Dialect;
use crate::domain::SessionId;
use crate::service::Service;

/// Sessions on one socket beside the first, at most.
pub const MAX_SUBSESSIONS: usize = 32;
/// Frames waiting to go to one session, and from all of them to the socket.
const QUEUE: usize = 256;
/// Bytes buffered in each in-memory socket.
const PIPE: usize = 64 * 1024;
/// Ids of these sessions, far above the accept loop's.
static NEXT_ID: AtomicU64 = AtomicU64::new(1 << 62);

/// One further session: where its inbound frames go; dropping it ends the session.
struct Sub {
    to: mpsc::Sender<Message>,
    _stop: watch::Sender<bool>,
}

/// The further sessions of one socket, by clientId. Nothing is allocated until the
/// first one opens.
#[derive(Default)]
pub struct Subsessions {
    by_peer: HashMap<String, Sub>,
    /// What they write, for the socket.
    out: Option<(mpsc::Sender<Message>, mpsc::Receiver<Message>)>,
}

/// A further session could not be opened.
#[derive(Debug)]
pub struct Full;

impl Subsessions {
    /// Whether `peer` has a session here.
    pub fn has(&self, peer: &str) -> bool {
        self.by_peer.contains_key(peer)
    }

    /// Hands an inbound frame to `peer`'s session; false if it has none (any more).
    pub fn forward(&mut self, peer: &str, frame: Message) -> bool {
        let Some(sub) = self.by_peer.get(peer) else {
            return false;
        };
        match sub.to.try_send(frame) {
            Ok(()) => true,
            // A session that does not keep up with its own requests is ended.
            Err(_) => {
                self.by_peer.remove(peer);
                false
            }
        }
    }

    /// Starts a session for `peer`, as a connection of its own.
    pub fn open(
        &mut self,
        service: &Arc<Service>,
        node: &Arc<str>,
        dialect: Dialect,
        peer: &str,
    ) -> Result<(), Full> {
        self.by_peer.retain(|_, sub| !sub.to.is_closed());
        if self.by_peer.len() >= MAX_SUBSESSIONS {
            return Err(Full);
        }
        let (to, from_socket) = mpsc::channel(QUEUE);
        let (stop, stopped) = watch::channel(false);
        let id = SessionId {
            node: node.clone(),
            conn: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        };
        let max = service.limits.max_frame_bytes;
        let config = WebSocketConfig::default()
            .max_frame_size(Some(max))
            .max_message_size(Some(max));
        let (inner, outer) = tokio::io::duplex(PIPE);
        let out = self
            .out
            .get_or_insert_with(|| mpsc::channel(QUEUE))
            .0
            .clone();
        let service = service.clone();
        tokio::spawn(async move {
            let inner = WebSocketStream::from_raw_socket(inner, Role::Server, Some(config)).await;
            tokio::spawn(super::serve(inner, dialect, service, id, stopped));
            let outer = WebSocketStream::from_raw_socket(outer, Role::Client, Some(config)).await;
            relay(outer, from_socket, out).await;
        });
        self.by_peer
            .insert(peer.to_owned(), Sub { to, _stop: stop });
        Ok(())
    }

    /// The next frame any further session writes; never, while there is none.
    pub async fn next(&mut self) -> Option<Message> {
        match &mut self.out {
            Some((_, from_sessions)) => from_sessions.recv().await,
            None => std::future::pending().await,
        }
    }
}

/// Carries frames between the socket's side and one session's in-memory socket,
/// until either ends. The session's close frame is its own: the socket stays.
async fn relay(
    mut ws: WebSocketStream<tokio::io::DuplexStream>,
    mut from_socket: mpsc::Receiver<Message>,
    out: mpsc::Sender<Message>,
) {
    loop {
        tokio::select! {
            frame = from_socket.recv() => match frame {
                Some(frame) => {
                    if ws.send(frame).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            written = ws.next() => match written {
                Some(Ok(m @ (Message::Binary(_) | Message::Text(_)))) => {
                    if out.send(m).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = ws.close(None).await;
}
