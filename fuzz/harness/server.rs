//! The server fuzz harness, shared by the cargo-fuzz target `server_frames` and the
//! stable corpus test `crates/server/tests/fuzz_corpus.rs`.
//!
//! leanrt-server exposes no frame-level entry point (decoding and `cmd::dispatch` are
//! private to the crate), so the harness drives the public one: an in-process
//! [`leanrt_server::Server`] on 127.0.0.1:0 with an in-memory store, reached over a
//! real WebSocket. An input is a list of frames separated by `\n`; a frame that is not
//! UTF-8 goes out as a binary frame. If the first byte is odd, a session is opened
//! first (so that most commands get past 4105). After the frames, a `session query`
//! with a known `i` must be answered (or the connection closed by the server) within
//! [`ANSWER_TIMEOUT`], and a fresh connection must still get `{}` back for `{}`.
//! A panic anywhere in the server (any task) fails the input.
//!
//! So that inputs reach past "conversation not found", `$CID` in a frame is replaced by
//! the id of a conversation made at start, whose members are the harness's sessions
//! (`fz0`..`fz15`). Besides the open app `fuzz`, the app `fuzzsig` has the master key
//! `key`, so signature checks are reached too.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message;

/// How long the server may take to answer the closing query.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// Frames sent per input, at most.
const MAX_FRAMES: usize = 64;
/// The `i` of the closing query.
const PROBE_I: u64 = 987_654_321;

struct State {
    rt: Runtime,
    addr: SocketAddr,
    cid: String,
}

static STATE: OnceLock<State> = OnceLock::new();
static PANICKED: AtomicBool = AtomicBool::new(false);
static PANIC_MESSAGE: Mutex<String> = Mutex::new(String::new());
static SESSIONS: AtomicU64 = AtomicU64::new(0);

fn state() -> &'static State {
    STATE.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICKED.store(true, Ordering::SeqCst);
            if let Ok(mut m) = PANIC_MESSAGE.lock() {
                *m = info.to_string();
            }
            previous(info);
        }));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let addr = rt.block_on(async {
            let mut config = leanrt_server::Config {
                listen: "127.0.0.1:0".parse().expect("address"),
                db: ":memory:".into(),
                ..Default::default()
            };
            config.limits.frames_per_second = 1_000_000;
            config.apps = vec![
                "fuzz".parse().expect("app"),
                "fuzzsig:key".parse().expect("app"),
            ];
            let server = leanrt_server::Server::bind(config).await.expect("bind");
            let addr = server.local_addr();
            // The handle lives as long as the process.
            std::mem::forget(server.spawn());
            addr
        });
        let cid = rt.block_on(shared_conversation(addr));
        State { rt, addr, cid }
    })
}

/// Creates the conversation `$CID` stands for; returns its id.
async fn shared_conversation(addr: SocketAddr) -> String {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .expect("connect");
    let members: Vec<String> = (0..16).map(|k| format!("fz{k}")).collect();
    for frame in [
        serde_json::json!({"cmd":"session","op":"open","appId":"fuzz","ua":"js/2.4.0","peerId":"fz0","i":1}),
        serde_json::json!({"cmd":"conv","op":"start","m":members,"attr":{"name":"fuzz"},"i":2,"peerId":"fz0"}),
    ] {
        ws.send(Message::Text(frame.to_string().into()))
            .await
            .expect("send");
    }
    while let Some(Ok(msg)) = ws.next().await {
        if let Message::Text(t) = msg {
            let v: serde_json::Value = serde_json::from_str(&t).expect("JSON");
            if v["op"] == "started" {
                let _ = ws.close(None).await;
                return v["cid"].as_str().expect("cid").to_owned();
            }
        }
    }
    panic!("no conversation for $CID");
}

/// Splits an input into the frames to send, `$CID` replaced by `cid`.
pub fn frames(data: &[u8], cid: &str) -> Vec<Message> {
    data.split(|b| *b == b'\n')
        .filter(|f| !f.is_empty())
        .take(MAX_FRAMES)
        .map(|f| match std::str::from_utf8(f) {
            Ok(s) => Message::Text(s.replace("$CID", cid).into()),
            Err(_) => Message::Binary(f.to_vec().into()),
        })
        .collect()
}

/// Runs one input; panics (with the reason) if the server misbehaved.
pub fn run(data: &[u8]) {
    let st = state();
    let open_first = data.first().is_some_and(|b| b & 1 == 1);
    let frames = frames(data, &st.cid);
    let outcome = st.rt.block_on(exchange(st.addr, open_first, frames));
    if PANICKED.load(Ordering::SeqCst) {
        let m = PANIC_MESSAGE.lock().map(|m| m.clone()).unwrap_or_default();
        panic!("leanrt-server panicked: {m}");
    }
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

async fn exchange(addr: SocketAddr, open_first: bool, frames: Vec<Message>) -> Result<(), String> {
    let url = format!("ws://{addr}/");
    let (mut ws, _) = tokio::time::timeout(ANSWER_TIMEOUT, tokio_tungstenite::connect_async(&url))
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|e| format!("connect failed: {e}"))?;
    if open_first {
        let peer = format!("fz{}", SESSIONS.fetch_add(1, Ordering::Relaxed) % 16);
        let open = format!(
            r#"{{"cmd":"session","op":"open","appId":"fuzz","ua":"js/2.4.0","peerId":"{peer}","i":1}}"#
        );
        if ws.send(Message::Text(open.into())).await.is_err() {
            return Ok(());
        }
    }
    for frame in frames {
        if ws.send(frame).await.is_err() {
            // The server closed the connection (a refusal or a close code): fine.
            return alive(addr).await;
        }
    }
    let probe = format!(r#"{{"cmd":"session","op":"query","sessionPeerIds":[],"i":{PROBE_I}}}"#);
    if ws.send(Message::Text(probe.into())).await.is_ok() {
        let answered = tokio::time::timeout(ANSWER_TIMEOUT, async {
            while let Some(msg) = ws.next().await {
                match msg {
                    Ok(Message::Text(t)) => {
                        let v: serde_json::Value = serde_json::from_str(&t)
                            .map_err(|e| format!("the server sent invalid JSON {t:?}: {e}"))?;
                        if v.get("i").and_then(|i| i.as_u64()) == Some(PROBE_I) {
                            return Ok(());
                        }
                    }
                    Ok(Message::Close(_)) | Err(_) => return Ok(()),
                    Ok(_) => {}
                }
            }
            Ok(())
        })
        .await;
        match answered {
            Err(_) => return Err("the server did not answer within the timeout".to_owned()),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(())) => {}
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    alive(addr).await
}

/// A fresh connection still gets `{}` back for `{}`.
async fn alive(addr: SocketAddr) -> Result<(), String> {
    let check = async {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .map_err(|e| format!("the server refuses connections: {e}"))?;
        ws.send(Message::Text("{}".into()))
            .await
            .map_err(|e| format!("send failed: {e}"))?;
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(Message::Text(t)) if t.as_str() == "{}" => {
                    let _ = ws.close(None).await;
                    return Ok(());
                }
                Ok(Message::Text(_)) | Ok(Message::Ping(_)) | Ok(Message::Pong(_)) => {}
                other => return Err(format!("no heartbeat echo: {other:?}")),
            }
        }
        Err("the server hung up".to_owned())
    };
    tokio::time::timeout(ANSWER_TIMEOUT, check)
        .await
        .map_err(|_| "the server stopped answering heartbeats".to_owned())?
}
