//! The engine against an in-process leanrt-server on 127.0.0.1:0.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use leanrt_client::router::Endpoint;
use leanrt_client::{Command, Config, Event, Handle, NativeConnector};
use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::task::JoinHandle;
use tokio::time::timeout;

const STEP: Duration = Duration::from_secs(10);

async fn start_server(listen: SocketAddr) -> leanrt_server::ServerHandle {
    let config = leanrt_server::Config {
        listen,
        db: ":memory:".into(),
        ..Default::default()
    };
    leanrt_server::Server::bind(config)
        .await
        .expect("bind")
        .spawn()
}

/// One engine, its events, and its task.
struct Client {
    id: String,
    handle: Handle,
    events: UnboundedReceiver<Event>,
    task: JoinHandle<()>,
    serial: u32,
}

impl Client {
    fn start(id: &str, endpoint: Endpoint, tune: impl FnOnce(&mut Config)) -> Client {
        let mut config = Config::new("APP", Some(id.to_owned()), endpoint);
        config.secure = false;
        tune(&mut config);
        let (tx, events) = unbounded_channel();
        let (handle, task) = leanrt_client::spawn(config, NativeConnector, Arc::new(tx));
        Client {
            id: id.to_owned(),
            handle,
            events,
            task: tokio::spawn(task),
            serial: 2015,
        }
    }

    /// The next event; the frames before an [`Event::Acks`] marker count as
    /// dispatched, so their acks are released, as the addon does after each batch.
    async fn next(&mut self) -> Event {
        let event = timeout(STEP, self.events.recv())
            .await
            .expect("event in time")
            .expect("engine alive");
        if let Event::Acks(upto) = event {
            self.handle.release_acks(upto);
        }
        event
    }

    /// The next frame's text, skipping other events.
    async fn next_frame(&mut self) -> Option<String> {
        loop {
            if let Event::Frame(text) = self.next().await {
                return Some(text);
            }
        }
    }

    /// Releases the acks of every frame received so far, as the addon does once JS
    /// has dispatched them (the marker of a read follows its frames at once).
    fn release_acks(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            if let Event::Acks(upto) = event {
                self.handle.release_acks(upto);
            }
        }
    }

    /// Waits for the next frame whose `cmd`/`op` match, skipping anything else.
    async fn frame(&mut self, cmd: &str, op: Option<&str>) -> Value {
        loop {
            if let Event::Frame(text) = self.next().await {
                let v: Value = serde_json::from_str(&text).expect("frame is JSON");
                if v["cmd"] == cmd && op.is_none_or(|op| v["op"] == op) {
                    return v;
                }
            }
        }
    }

    async fn until(&mut self, wanted: impl Fn(&Event) -> bool) -> Event {
        loop {
            let event = self.next().await;
            if wanted(&event) {
                return event;
            }
        }
    }

    fn frame_text(&mut self, mut v: Value) -> (u32, String) {
        self.serial += 1;
        v["i"] = json!(self.serial);
        v["peerId"] = json!(self.id);
        (self.serial, v.to_string())
    }

    /// Waits for the socket, opens the session, waits for `session opened`.
    async fn open(&mut self) {
        self.until(|e| *e == Event::SocketOpen).await;
        let (_, open) = self
            .frame_text(json!({"cmd": "session", "op": "open", "appId": "APP", "ua": "js/2.4.0"}));
        assert!(self.handle.command(Command::OpenSession(open)).is_ok());
        self.frame("session", Some("opened")).await;
    }

    fn send(&mut self, v: Value) -> u32 {
        let (i, text) = self.frame_text(v);
        assert!(self.handle.command(Command::Send(text)).is_ok());
        i
    }

    async fn close(mut self) -> Vec<Event> {
        let (_, bye) = self.frame_text(json!({"cmd": "session", "op": "close"}));
        let _ = self.handle.command(Command::Close(Some(bye)));
        timeout(STEP, self.task)
            .await
            .expect("engine stops after close")
            .expect("no panic");
        let mut rest = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            rest.push(event);
        }
        rest
    }
}

#[tokio::test]
async fn open_converse_log_and_close() {
    let server = start_server("127.0.0.1:0".parse().unwrap()).await;
    let router = Endpoint::Router(format!("http://{}", server.local_addr()));
    let mut alice = Client::start("alice", router.clone(), |_| {});
    let mut bob = Client::start("bob", router, |_| {});
    alice.open().await;
    bob.open().await;

    let i = alice.send(json!({"cmd": "conv", "op": "start", "m": ["bob"], "attr": {"name": "R", "attr": {}}, "unique": false, "transient": false}));
    let started = alice.frame("conv", Some("started")).await;
    assert_eq!(started["i"], i);
    let cid = started["cid"].as_str().expect("cid").to_owned();

    let sent: Vec<u32> = (0..3)
        .map(|n| alice.send(json!({"cmd": "direct", "cid": cid, "msg": format!("m{n}"), "r": 1, "transient": false})))
        .collect();
    for n in 0..3 {
        let direct = bob.frame("direct", None).await;
        assert_eq!(direct["msg"], format!("m{n}"));
    }
    // Alice gets her acks, but no receipt: Bob's engine acks only what Bob's
    // embedder says it dispatched.
    let (mut acked, mut receipts) = (Vec::new(), 0);
    let count = |text: String, acked: &mut Vec<u32>, receipts: &mut usize| {
        let v: Value = serde_json::from_str(&text).unwrap();
        match v["cmd"].as_str() {
            Some("ack") => acked.push(v["i"].as_u64().unwrap() as u32),
            Some("rcp") => *receipts += 1,
            _ => {}
        }
    };
    while let Ok(Some(text)) = timeout(Duration::from_millis(500), alice.next_frame()).await {
        count(text, &mut acked, &mut receipts);
    }
    assert_eq!(acked, sent);
    assert_eq!(receipts, 0, "no receipt before Bob dispatched the messages");
    bob.release_acks();
    while receipts < 3 {
        count(alice.next_frame().await.unwrap(), &mut acked, &mut receipts);
    }

    let i = alice.send(json!({"cmd": "logs", "cid": cid, "limit": 2}));
    let logs = alice.frame("logs", None).await;
    assert_eq!(logs["i"], i);
    let data: Vec<&str> = logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["data"].as_str().unwrap())
        .collect();
    assert_eq!(data, ["m1", "m2"]);

    let rest = alice.close().await;
    assert!(
        rest.contains(&Event::Close {
            code: 1000,
            reason: String::new()
        }),
        "{rest:?}"
    );
    assert!(!rest.contains(&Event::Reuse));
    bob.close().await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn heartbeat_keeps_an_idle_connection() {
    let server = start_server("127.0.0.1:0".parse().unwrap()).await;
    let endpoint = Endpoint::Server(format!("ws://{}/", server.local_addr()));
    let mut client = Client::start("idle", endpoint, |c| {
        c.heartbeat_ms.store(50, Ordering::Relaxed)
    });
    client.open().await;
    let quiet = timeout(
        Duration::from_millis(600),
        client.until(|e| !matches!(e, Event::Frame(_))),
    )
    .await;
    assert!(quiet.is_err(), "unexpected {quiet:?}");
    let i = client.send(json!({"cmd": "session", "op": "query", "sessionPeerIds": ["idle"]}));
    assert_eq!(client.frame("session", Some("query-result")).await["i"], i);
    client.close().await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn reconnects_after_the_server_restarts_and_sends_held_frames() {
    let server = start_server("127.0.0.1:0".parse().unwrap()).await;
    let addr = server.local_addr();
    let endpoint = Endpoint::Server(format!("ws://{addr}/"));
    let mut client = Client::start("phoenix", endpoint, |c| {
        c.reconnect_delay = Duration::from_millis(200)
    });
    client.open().await;

    server.shutdown().await.unwrap();
    assert!(matches!(
        client.until(|e| matches!(e, Event::Close { .. })).await,
        Event::Close { .. }
    ));
    assert_eq!(client.next().await, Event::Reuse);
    assert_eq!(client.next().await, Event::Backoff { keep_alive: true });
    // Sent while offline: held, then sent once the next session is open.
    let i = client.send(json!({"cmd": "session", "op": "query", "sessionPeerIds": ["phoenix"]}));

    let server = start_server(addr).await;
    client.open().await;
    let answer = client.frame("session", Some("query-result")).await;
    assert_eq!(answer["i"], i);
    assert_eq!(answer["onlineSessionPeerIds"], json!(["phoenix"]));
    client.close().await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn sends_past_the_hold_limit_are_reported() {
    // Nothing listens there: the engine keeps retrying and holds what is sent.
    let endpoint = Endpoint::Server("ws://127.0.0.1:9/".into());
    let mut client = Client::start("offline", endpoint, |c| {
        c.hold_limit = 2;
        c.reconnect_delay = Duration::from_millis(50);
    });
    for _ in 0..3 {
        client.send(json!({"cmd": "direct", "cid": "c", "msg": "x"}));
    }
    let dropped = client.until(|e| matches!(e, Event::Dropped(_))).await;
    assert!(matches!(dropped, Event::Dropped(text) if text.contains("\"i\":2018")));
    assert!(matches!(
        client.until(|e| matches!(e, Event::Error(_))).await,
        Event::Error(_)
    ));
    client.close().await;
}

#[tokio::test]
async fn router_errors_are_events_and_retried() {
    let endpoint = Endpoint::Router("http://127.0.0.1:9".into());
    let mut client = Client::start("lost", endpoint, |c| {
        c.reconnect_delay = Duration::from_millis(20)
    });
    for _ in 0..2 {
        assert_eq!(client.next().await, Event::Connecting);
        assert!(matches!(client.next().await, Event::Error(e) if e.contains("router")));
        // Nothing ever opened: the embedder need not stay alive for the retries.
        assert_eq!(client.next().await, Event::Backoff { keep_alive: false });
    }
    client.close().await;
}

#[tokio::test]
async fn a_wildcard_bound_server_is_reached_through_its_router() {
    // Bound to 0.0.0.0 without a public URL, the server answers the lookup with the
    // request's Host header: it must carry the port for the answer to be reachable.
    let server = start_server("0.0.0.0:0".parse().unwrap()).await;
    let port = server.local_addr().port();
    let router = Endpoint::Router(format!("http://127.0.0.1:{port}"));
    let mut client = Client::start("wild", router, |_| {});
    client.open().await;
    let i = client.send(json!({"cmd": "session", "op": "query", "sessionPeerIds": ["wild"]}));
    assert_eq!(client.frame("session", Some("query-result")).await["i"], i);
    client.close().await;
    server.shutdown().await.unwrap();
}
