//! A transport driven by the embedder: for `realtime.config({WebSocket})`, the JS
//! side opens a WebSocket of the user's class when asked through
//! [`Event::ForeignConnect`], and reports what the socket does through a
//! [`ForeignHub`]. Sends and closes go out as [`Event::ForeignSend`] and
//! [`Event::ForeignClose`]. Every socket has a number; reports about an old
//! socket are ignored. A socket's reports wait in a bounded queue
//! ([`SIGNAL_QUEUE`]); a socket that overflows it counts as lost and is closed.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{channel, Receiver, Sender};

use crate::event::{Event, EventSink};
use crate::transport::{Connector, Received, Transport};

/// How long a JS socket may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Reports of a JS socket that may wait for the engine.
pub const SIGNAL_QUEUE: usize = 4096;

/// What the JS socket reported.
#[derive(Debug)]
enum Signal {
    Open,
    Message(String),
    Error(String),
    Closed { code: u16, reason: String },
}

#[derive(Default)]
struct Current {
    last_socket: u64,
    socket: Option<(u64, Sender<Signal>)>,
}

/// Receives the reports of the JS socket, from any thread.
#[derive(Default)]
pub struct ForeignHub {
    current: Mutex<Current>,
}

impl ForeignHub {
    fn report(&self, socket: u64, signal: Signal) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((id, tx)) = &current.socket {
            if *id == socket {
                if let Err(TrySendError::Full(_)) = tx.try_send(signal) {
                    // The engine sees the queue end: the socket is lost.
                    current.socket = None;
                }
            }
        }
    }

    /// Socket `socket` fired `open`.
    pub fn opened(&self, socket: u64) {
        self.report(socket, Signal::Open);
    }

    /// Socket `socket` received a text frame.
    pub fn message(&self, socket: u64, text: String) {
        self.report(socket, Signal::Message(text));
    }

    /// Socket `socket` fired `error`.
    pub fn error(&self, socket: u64, message: String) {
        self.report(socket, Signal::Error(message));
    }

    /// Socket `socket` fired `close`.
    pub fn closed(&self, socket: u64, code: u16, reason: String) {
        self.report(socket, Signal::Closed { code, reason });
    }

    /// Makes a new socket current; reports about older ones are dropped from now on.
    fn register(&self) -> (u64, Receiver<Signal>) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.last_socket += 1;
        let (tx, rx) = channel(SIGNAL_QUEUE);
        let id = current.last_socket;
        current.socket = Some((id, tx));
        (id, rx)
    }
}

/// Asks the embedder for JS sockets.
pub struct ForeignConnector<S> {
    hub: Arc<ForeignHub>,
    sink: Arc<S>,
}

impl<S> ForeignConnector<S> {
    pub fn new(hub: Arc<ForeignHub>, sink: Arc<S>) -> Self {
        ForeignConnector { hub, sink }
    }
}

/// An open JS socket.
pub struct ForeignTransport<S> {
    socket: u64,
    signals: Receiver<Signal>,
    sink: Arc<S>,
    queued: Vec<String>,
}

impl<S: EventSink> Connector for ForeignConnector<S> {
    type Transport = ForeignTransport<S>;

    async fn connect(&self, url: &str) -> Result<ForeignTransport<S>, String> {
        let (socket, mut signals) = self.hub.register();
        self.sink
            .push(Event::ForeignConnect {
                socket,
                url: url.to_owned(),
            })
            .await;
        let first = tokio::time::timeout(CONNECT_TIMEOUT, signals.recv()).await;
        let fail = |why: String| {
            let sink = self.sink.clone();
            async move {
                sink.push(Event::ForeignClose { socket }).await;
                Err(format!("WebSocket {url}: {why}"))
            }
        };
        match first {
            Ok(Some(Signal::Open)) => Ok(ForeignTransport {
                socket,
                signals,
                sink: self.sink.clone(),
                queued: Vec::new(),
            }),
            Ok(Some(Signal::Error(e))) => fail(e).await,
            Ok(Some(Signal::Closed { code, reason })) => {
                fail(format!("closed {code} {reason}")).await
            }
            Ok(Some(Signal::Message(_))) => fail("message before open".into()).await,
            Ok(None) => fail("replaced".into()).await,
            Err(_) => fail("timed out".into()).await,
        }
    }
}

impl<S: EventSink> ForeignTransport<S> {
    async fn convert(&self, signal: Option<Signal>) -> Option<Received> {
        match signal {
            Some(Signal::Message(text)) => Some(Received::Text(text)),
            Some(Signal::Closed { code, reason }) => Some(Received::Closed { code, reason }),
            Some(Signal::Error(e)) => {
                self.sink.push(Event::Error(e)).await;
                None
            }
            Some(Signal::Open) => None,
            None => {
                // Overflowed (or replaced): the JS socket must not outlive it.
                let socket = self.socket;
                self.sink.push(Event::ForeignClose { socket }).await;
                Some(Received::Closed {
                    code: 1006,
                    reason: format!("leanrt: more than {SIGNAL_QUEUE} socket events pending"),
                })
            }
        }
    }
}

impl<S: EventSink> Transport for ForeignTransport<S> {
    async fn recv_batch(&mut self, out: &mut Vec<Received>) {
        let start = out.len();
        while out.len() == start {
            let signal = self.signals.recv().await;
            out.extend(self.convert(signal).await);
            if matches!(out.last(), Some(Received::Closed { .. })) {
                return;
            }
        }
        while let Ok(signal) = self.signals.try_recv() {
            out.extend(self.convert(Some(signal)).await);
            if matches!(out.last(), Some(Received::Closed { .. })) {
                return;
            }
        }
    }

    async fn feed(&mut self, text: String) -> Result<(), String> {
        self.queued.push(text);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), String> {
        for text in std::mem::take(&mut self.queued) {
            self.sink
                .push(Event::ForeignSend {
                    socket: self.socket,
                    text,
                })
                .await;
        }
        Ok(())
    }

    async fn close(&mut self) {
        self.sink
            .push(Event::ForeignClose {
                socket: self.socket,
            })
            .await;
    }
}
