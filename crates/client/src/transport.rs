//! The socket abstraction the session runs on: tokio-tungstenite natively
//! ([`crate::NativeConnector`]), or a JS WebSocket ([`crate::foreign`]).

use std::future::Future;

/// Something read from the socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    Text(String),
    /// The socket is closed; nothing more will be read.
    Closed {
        code: u16,
        reason: String,
    },
}

/// An open WebSocket carrying text frames.
pub trait Transport: Send + 'static {
    /// Waits for at least one item, then appends what else is ready without waiting,
    /// so that the session can answer one read with one write. Cancel-safe.
    fn recv_batch(&mut self, out: &mut Vec<Received>) -> impl Future<Output = ()> + Send;
    /// Queues a text frame; [`Transport::flush`] sends what is queued.
    fn feed(&mut self, text: String) -> impl Future<Output = Result<(), String>> + Send;
    fn flush(&mut self) -> impl Future<Output = Result<(), String>> + Send;
    /// Starts a normal close (code 1000). Reading then yields [`Received::Closed`].
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}

/// Opens transports.
pub trait Connector: Send + Sync + 'static {
    type Transport: Transport;
    fn connect(&self, url: &str) -> impl Future<Output = Result<Self::Transport, String>> + Send;
}
