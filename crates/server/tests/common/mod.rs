//! Test helpers: a server on 127.0.0.1:0 and a WebSocket client speaking the JSON
//! dialect.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
pub use leanrt_server::{App, Config, Server, ServerHandle};
use serde::de::{Deserialize, Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const APP: &str = "app";
const WAIT: Duration = Duration::from_secs(5);

/// A config for tests: any port, a fresh database ([`test_db`]).
pub fn config() -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        db: test_db(),
        ..Config::default()
    }
}

/// An ephemeral SQLite database, or with `LEANRT_TEST_PG` set (a
/// `postgres://USER@HOST:PORT` URL) a new PostgreSQL database on that server, which
/// the store creates: the tests that use [`config`] then run on PostgreSQL.
pub fn test_db() -> String {
    match std::env::var("LEANRT_TEST_PG") {
        Ok(base) if !base.is_empty() => format!(
            "{}/t_{}_{}",
            base.trim_end_matches('/'),
            std::process::id(),
            rand_suffix()
        ),
        _ => ":memory:".into(),
    }
}

pub async fn start(config: Config) -> ServerHandle {
    Server::bind(config).await.expect("bind").spawn()
}

pub async fn start_default() -> ServerHandle {
    start(config()).await
}

/// A config whose only app enforces signatures with `key`.
pub fn signed_config(key: &str) -> Config {
    Config {
        apps: vec![App {
            id: APP.into(),
            master_key: Some(key.into()),
        }],
        ..config()
    }
}

/// A fresh directory for database files.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "leanrt-server-{name}-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Deserialises only JSON objects without duplicate keys.
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(UniqueKeys)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(A::Error::custom(format!("duplicate key {key:?}")));
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(UniqueKeys)
    }
}

/// What a read produced.
#[derive(Debug, PartialEq)]
pub enum Event {
    Frame(Value),
    Closed(Option<u16>),
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub peer: String,
    next_i: i64,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .expect("connect");
        Client {
            ws,
            peer: String::new(),
            next_i: 2015,
        }
    }

    /// Connects and opens a session as `peer` in the default app.
    pub async fn open(addr: SocketAddr, peer: &str) -> Client {
        Client::open_tagged(addr, peer, None).await
    }

    /// Like `open`, logged in under a `(tag, deviceId)` for single-device login.
    pub async fn open_tagged(addr: SocketAddr, peer: &str, device: Option<(&str, &str)>) -> Client {
        let mut c = Client::connect(addr).await;
        let mut open =
            json!({"cmd":"session","op":"open","appId":APP,"ua":"js/2.4.0","peerId":peer});
        if let Some((tag, id)) = device {
            open["tag"] = json!(tag);
            open["deviceId"] = json!(id);
        }
        let opened = c.request(open).await;
        assert_eq!(opened["op"], "opened", "{opened}");
        c.peer = peer.to_owned();
        c
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.ws
            .send(Message::Text(text.into().into()))
            .await
            .expect("send");
    }

    pub async fn send_binary(&mut self) {
        self.ws
            .send(Message::Binary(vec![1, 2, 3].into()))
            .await
            .expect("send");
    }

    /// Sends a frame, adding `peerId` once the client has one.
    pub async fn send(&mut self, mut frame: Value) {
        if !self.peer.is_empty() && frame.get("peerId").is_none() {
            frame["peerId"] = json!(self.peer);
        }
        self.send_text(frame.to_string()).await;
    }

    /// Sends a frame with the next `i` and returns the next frame, which must carry it.
    pub async fn request(&mut self, mut frame: Value) -> Value {
        self.next_i += 1;
        let i = self.next_i;
        frame["i"] = json!(i);
        self.send(frame).await;
        let reply = self.recv().await;
        assert_eq!(reply["i"], json!(i), "reply to i={i}: {reply}");
        reply
    }

    /// Like `request`, but skips pushes (frames without `i`) arriving before the reply.
    pub async fn request_among_pushes(&mut self, mut frame: Value) -> Value {
        self.next_i += 1;
        let i = self.next_i;
        frame["i"] = json!(i);
        self.send(frame).await;
        loop {
            let reply = self.recv().await;
            if reply.get("i").is_some() {
                assert_eq!(reply["i"], json!(i), "reply to i={i}: {reply}");
                return reply;
            }
        }
    }

    pub async fn next_event(&mut self, wait: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            return Some(match msg {
                Some(Ok(Message::Text(t))) => {
                    if let Err(e) = serde_json::from_str::<UniqueKeys>(&t) {
                        panic!("server sent a bad frame ({e}): {t}");
                    }
                    Event::Frame(serde_json::from_str(&t).expect("server sent JSON"))
                }
                Some(Ok(Message::Close(frame))) => Event::Closed(frame.map(|f| f.code.into())),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => Event::Closed(None),
            });
        }
    }

    /// The next frame; panics on close or timeout.
    pub async fn recv(&mut self) -> Value {
        match self.next_event(WAIT).await {
            Some(Event::Frame(v)) => v,
            other => panic!("{}: expected a frame, got {other:?}", self.peer),
        }
    }

    /// Asserts that nothing arrives for a short while.
    pub async fn silent(&mut self) {
        if let Some(e) = self.next_event(Duration::from_millis(150)).await {
            panic!("{}: expected silence, got {e:?}", self.peer);
        }
    }

    /// Reads until the server closes; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match self.next_event(WAIT).await {
                Some(Event::Closed(code)) => return code,
                Some(Event::Frame(_)) => continue,
                None => panic!("{}: expected a close", self.peer),
            }
        }
    }

    /// Creates a normal conversation with `members`; returns its cid.
    pub async fn start(&mut self, members: &[&str]) -> String {
        let started = self
            .request(json!({"cmd":"conv","op":"start","m":members,"attr":{"name":"R","attr":{}},"unique":false,"transient":false}))
            .await;
        assert_eq!(started["op"], "started", "{started}");
        started["cid"].as_str().expect("cid").to_owned()
    }

    /// Sends a message and returns the ack.
    pub async fn say(&mut self, cid: &str, msg: &str) -> Value {
        let ack = self
            .request(json!({"cmd":"direct","cid":cid,"msg":msg,"r":false,"transient":false}))
            .await;
        assert_eq!(ack["cmd"], "ack", "{ack}");
        ack
    }

    /// Sends `count` messages `{who}0`, `{who}1`, … one after another (each acked
    /// before the next), skipping pushes; returns the client.
    pub async fn say_numbered(mut self, cid: &str, who: &str, count: usize) -> Client {
        for n in 0..count {
            self.request_among_pushes(
                json!({"cmd":"direct","cid":cid,"msg":format!("{who}{n}"),"r":false,"transient":false}),
            )
            .await;
        }
        self
    }

    /// Closes with code 1000 and returns the code the server echoes.
    pub async fn close_cleanly(mut self) -> Option<u16> {
        use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
        use tokio_tungstenite::tungstenite::protocol::CloseFrame;
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        self.ws.close(Some(frame)).await.expect("send close");
        self.closed().await
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// Raw HTTP GET; returns (status line and headers, body).
pub async fn http(addr: SocketAddr, request: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    let (head, body) = out.split_once("\r\n\r\n").expect("a response");
    (head.to_owned(), body.to_owned())
}

/// A server process, killed when dropped (also when a test fails).
pub struct ServerProcess(pub std::process::Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the real binary; returns the process and its bound address.
pub fn spawn_binary(db: &std::path::Path) -> (ServerProcess, SocketAddr) {
    spawn_binary_with(db, &[], &[])
}

/// Runs the real binary with more flags and environment variables.
pub fn spawn_binary_with(
    db: &std::path::Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (ServerProcess, SocketAddr) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_leanrt-server"))
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(args)
        .envs(envs.iter().copied())
        .env("LEANRT_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("spawn leanrt-server");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
        .expect("read the ready line");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("address");
    (ServerProcess(child), addr)
}

/// The whole history of `cid`, oldest first, paged backwards 1000 at a time.
pub async fn all_logs(c: &mut Client, cid: &str) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    let mut bound: Option<Value> = None;
    loop {
        let mut req = json!({"cmd":"logs","cid":cid,"limit":1000});
        if let Some(oldest) = &bound {
            req["t"] = oldest["timestamp"].clone();
            req["mid"] = oldest["msgId"].clone();
        }
        let page = c.request_among_pushes(req).await;
        let items = page["logs"].as_array().expect("logs").clone();
        let Some(oldest) = items.first().cloned() else {
            break;
        };
        bound = Some(oldest);
        all.splice(0..0, items);
    }
    all
}

/// `PRAGMA user_version` of the data file at `db`.
pub fn schema_version(db: &std::path::Path) -> i64 {
    rusqlite::Connection::open(db)
        .expect("open")
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version")
}
