//! The default transport: tokio-tungstenite with native-tls, TCP_NODELAY and small
//! buffers (an idle connection should cost about what `ws` costs).

use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::transport::{Connector, Received, Transport};

/// Bytes read from the socket at a time.
const READ_BUFFER: usize = 4 * 1024;
/// Bytes queued before `feed` writes without waiting for `flush`.
const WRITE_BUFFER: usize = 8 * 1024;
/// Frames taken from one read before handing them over.
const MAX_BATCH: usize = 256;
/// How long the TCP, TLS and WebSocket handshakes may take together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a write may wait for the peer to read: past it the link counts as dead
/// (a peer that stops reading would otherwise hold the session, its heartbeat, its
/// guard and `close()` forever).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the close frame may take to go out.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects with tokio-tungstenite.
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeConnector;

/// A tokio-tungstenite socket.
pub struct NativeTransport {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    closed: bool,
}

impl Connector for NativeConnector {
    type Transport = NativeTransport;

    async fn connect(&self, url: &str) -> Result<NativeTransport, String> {
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(WRITE_BUFFER);
        let tls = if url.starts_with("wss:") {
            Some(tokio_tungstenite::Connector::NativeTls(
                crate::tls::connector()?,
            ))
        } else {
            None
        };
        let handshake =
            tokio_tungstenite::connect_async_tls_with_config(url, Some(config), true, tls);
        let (ws, _) = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
            .await
            .map_err(|_| format!("WebSocket {url}: timed out"))?
            .map_err(|e| format!("WebSocket {url}: {e}"))?;
        Ok(NativeTransport { ws, closed: false })
    }
}

impl NativeTransport {
    /// Converts one read; `None` for frames that carry nothing for the session.
    fn convert(
        &mut self,
        item: Option<Result<Message, impl std::fmt::Display>>,
    ) -> Option<Received> {
        let closed = |code: u16, reason: String| Some(Received::Closed { code, reason });
        match item {
            Some(Ok(Message::Text(text))) => Some(Received::Text(text.as_str().to_owned())),
            Some(Ok(Message::Close(frame))) => {
                self.closed = true;
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.as_str().to_owned())
                });
                closed(code, reason)
            }
            Some(Ok(_)) => None,
            Some(Err(e)) if !self.closed => {
                self.closed = true;
                closed(1006, e.to_string())
            }
            Some(Err(_)) | None => {
                let first = !std::mem::replace(&mut self.closed, true);
                // After a close frame the stream ends; report the end once only.
                first.then(|| Received::Closed {
                    code: 1006,
                    reason: String::new(),
                })
            }
        }
    }
}

impl Transport for NativeTransport {
    async fn recv_batch(&mut self, out: &mut Vec<Received>) {
        let start = out.len();
        while out.len() == start {
            if self.closed {
                // Already reported; wait forever so the caller's other branches run.
                std::future::pending::<()>().await;
            }
            let item = self.ws.next().await;
            out.extend(self.convert(item));
        }
        while out.len() - start < MAX_BATCH && !self.closed {
            match self.ws.next().now_or_never() {
                Some(item) => out.extend(self.convert(item)),
                None => break,
            }
        }
    }

    async fn feed(&mut self, text: String) -> Result<(), String> {
        let write = self.ws.feed(Message::text(text));
        within(WRITE_TIMEOUT, write).await
    }

    async fn flush(&mut self) -> Result<(), String> {
        within(WRITE_TIMEOUT, self.ws.flush()).await
    }

    async fn close(&mut self) {
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        let _ = within(CLOSE_WRITE_TIMEOUT, self.ws.close(Some(frame))).await;
    }
}

/// `write`, failed when the peer has not taken it within `limit`.
async fn within<E: std::fmt::Display>(
    limit: Duration,
    write: impl std::future::Future<Output = Result<(), E>>,
) -> Result<(), String> {
    match tokio::time::timeout(limit, write).await {
        Ok(done) => done.map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "write timed out after {} s: the peer is not reading",
            limit.as_secs()
        )),
    }
}
