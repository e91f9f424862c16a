//! The client fuzz harness, shared by the cargo-fuzz target `client_frames` and the
//! stable corpus test `crates/client/tests/fuzz_corpus.rs`.
//!
//! The engine's frame handling (`frame::classify`, the session's batch handling) is
//! private, so the harness drives the public entry point: [`leanrt_client::spawn`] with
//! an in-memory [`Connector`] whose socket reads what the input says. An input is a list
//! of reads separated by the byte 0x1E; each read is a batch of text frames separated by
//! `\n` (bytes that are not UTF-8 are replaced). A line starting with `>` is not read
//! but sent by the embedder (`Command::Send`). After the reads the socket closes, the
//! engine must report the close, and `Command::Close` must stop it within a bound.
//! Checked: no panic; every `Frame` event is a frame that was read, in order; every
//! read `direct` that is not transient is acked on the socket.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use leanrt_client::router::Endpoint;
use leanrt_client::transport::{Connector, Received, Transport};
use leanrt_client::{Command, Config, Event};
use tokio::runtime::Runtime;
use tokio::sync::mpsc::unbounded_channel;

/// How long the engine may take to settle and to stop.
const BOUND: Duration = Duration::from_secs(5);
const MAX_READS: usize = 32;
const MAX_FRAMES: usize = 256;

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// What the input says, parsed.
#[derive(Debug, Default)]
pub struct Script {
    pub reads: Vec<Vec<String>>,
    pub sends: Vec<String>,
}

pub fn script(data: &[u8]) -> Script {
    let mut s = Script::default();
    let mut frames = 0;
    for read in data.split(|b| *b == 0x1E).take(MAX_READS) {
        let mut batch = Vec::new();
        for line in read.split(|b| *b == b'\n') {
            if line.is_empty() || frames >= MAX_FRAMES {
                continue;
            }
            frames += 1;
            let text = String::from_utf8_lossy(line).into_owned();
            match text.strip_prefix('>') {
                Some(send) => s.sends.push(send.to_owned()),
                None => batch.push(text),
            }
        }
        if !batch.is_empty() {
            s.reads.push(batch);
        }
    }
    s
}

struct FakeSocket {
    reads: VecDeque<Vec<String>>,
    closed: bool,
    written: Arc<Mutex<Vec<String>>>,
}

impl Transport for FakeSocket {
    fn recv_batch(&mut self, out: &mut Vec<Received>) -> impl Future<Output = ()> + Send {
        let next = if let Some(batch) = self.reads.pop_front() {
            Some(batch.into_iter().map(Received::Text).collect::<Vec<_>>())
        } else if !self.closed {
            self.closed = true;
            Some(vec![Received::Closed {
                code: 1006,
                reason: "fuzz: end of input".into(),
            }])
        } else {
            None
        };
        async move {
            match next {
                Some(items) => out.extend(items),
                None => std::future::pending::<()>().await,
            }
        }
    }

    fn feed(&mut self, text: String) -> impl Future<Output = Result<(), String>> + Send {
        if let Ok(mut w) = self.written.lock() {
            w.push(text);
        }
        std::future::ready(Ok(()))
    }

    fn flush(&mut self) -> impl Future<Output = Result<(), String>> + Send {
        std::future::ready(Ok(()))
    }

    fn close(&mut self) -> impl Future<Output = ()> + Send {
        self.reads.clear();
        std::future::ready(())
    }
}

/// Connects once to the scripted socket; later attempts fail.
struct FakeConnector {
    reads: Mutex<Option<Vec<Vec<String>>>>,
    written: Arc<Mutex<Vec<String>>>,
}

impl Connector for FakeConnector {
    type Transport = FakeSocket;

    fn connect(&self, _url: &str) -> impl Future<Output = Result<FakeSocket, String>> + Send {
        let reads = self.reads.lock().ok().and_then(|mut r| r.take());
        let written = self.written.clone();
        std::future::ready(match reads {
            Some(reads) => Ok(FakeSocket {
                reads: reads.into(),
                closed: false,
                written,
            }),
            None => Err("fuzz: no more sockets".to_owned()),
        })
    }
}

fn truthy(v: Option<&serde_json::Value>) -> bool {
    use serde_json::Value;
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// Runs one input; panics (with the reason) if the engine misbehaved.
pub fn run(data: &[u8]) {
    let script = script(data);
    let read_frames: Vec<String> = script.reads.iter().flatten().cloned().collect();
    let written = Arc::new(Mutex::new(Vec::new()));
    let connector = FakeConnector {
        reads: Mutex::new(Some(script.reads)),
        written: written.clone(),
    };
    let mut config = Config::new(
        "fuzz",
        Some("fuzzer".to_owned()),
        Endpoint::Server("ws://fuzz.invalid/".into()),
    );
    config.reconnect_delay = Duration::from_millis(1);
    config.hold_limit = 8;
    let (tx, mut events) = unbounded_channel::<Event>();
    let (handle, task) = leanrt_client::spawn(config, connector, Arc::new(tx));
    let seen = runtime().block_on(async move {
        let task = tokio::spawn(task);
        let mut seen = Vec::new();
        let mut closed = false;
        let settle = tokio::time::timeout(BOUND, async {
            while let Some(event) = events.recv().await {
                match &event {
                    Event::SocketOpen => {
                        let _ = handle.command(Command::OpenSession(
                            r#"{"cmd":"session","op":"open","appId":"fuzz","peerId":"fuzzer","i":1}"#
                                .to_owned(),
                        ));
                        for send in &script.sends {
                            let _ = handle.command(Command::Send(send.clone()));
                        }
                    }
                    // Everything before the marker counts as dispatched.
                    Event::Acks(upto) => {
                        handle.release_acks(*upto);
                    }
                    Event::Close { .. } => closed = true,
                    // The reconnect after the scripted socket fails: the run is over.
                    Event::Error(e) if e.starts_with("fuzz: no more sockets") => {
                        seen.push(event);
                        break;
                    }
                    _ => {}
                }
                seen.push(event);
            }
        })
        .await;
        assert!(settle.is_ok(), "the engine did not settle: {seen:?}");
        assert!(closed, "the end of the socket was not reported: {seen:?}");
        let _ = handle.command(Command::Close(None));
        drop(handle);
        match tokio::time::timeout(BOUND, task).await {
            Err(_) => panic!("the engine did not stop after Command::Close"),
            Ok(Err(e)) => panic!("the engine task failed: {e}"),
            Ok(Ok(())) => {}
        }
        seen
    });
    // Frames are delivered as read, in order, and only those with a truthy `cmd`.
    let delivered: Vec<&String> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Frame(t) => Some(t),
            _ => None,
        })
        .collect();
    let mut next = read_frames.iter();
    for text in &delivered {
        assert!(
            next.any(|r| r == *text),
            "delivered a frame that was not read (or out of order): {text:?}"
        );
    }
    // Only messages delivered before an answered marker are acked: never one the
    // embedder has not dispatched (whether the acks went out before the socket
    // ended depends on timing).
    let dispatched: Vec<serde_json::Value> = seen
        .iter()
        .scan(Vec::new(), |frames, e| {
            Some(match e {
                Event::Frame(t) => {
                    frames.push(t.clone());
                    Vec::new()
                }
                Event::Acks(_) => std::mem::take(frames),
                _ => Vec::new(),
            })
        })
        .flatten()
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect();
    let written = written.lock().map(|w| w.clone()).unwrap_or_default();
    for text in &written {
        let Ok(a) = serde_json::from_str::<serde_json::Value>(text) else {
            continue;
        };
        if a["cmd"] != "ack" {
            continue;
        }
        let known = dispatched.iter().any(|v| {
            v.get("cmd").and_then(|c| c.as_str()) == Some("direct")
                && !truthy(v.get("transient"))
                && a.get("mid") == v.get("id").filter(|id| !id.is_null())
                && a.get("cid") == v.get("cid").filter(|c| !c.is_null())
        });
        assert!(known, "ack {text} of no dispatched message; seen: {seen:?}");
    }
}
