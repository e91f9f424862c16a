//! Several nodes on one PostgreSQL and one Redis: cross-node delivery, acks and
//! receipts, multi-device, presence with a lease, rooms, the session limit, kicks,
//! the repair of a lost push, and Redis restarting empty. Runs with `LEANRT_TEST_PG`
//! and `LEANRT_TEST_REDIS` (a `redis://HOST:PORT` URL); `.ci/run` starts both.
//! Without them these tests pass as skipped, unless `LEANRT_REQUIRE_PG` is set.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use leanrt_server::Limits;
use serde_json::{json, Value};

/// The Redis URL of the run, or `None` (skip).
fn redis_url() -> Option<String> {
    let pg = std::env::var("LEANRT_TEST_PG").unwrap_or_default();
    let redis = std::env::var("LEANRT_TEST_REDIS").unwrap_or_default();
    if pg.is_empty() || redis.is_empty() {
        assert!(
            std::env::var_os("LEANRT_REQUIRE_PG").is_none(),
            "LEANRT_REQUIRE_PG is set but LEANRT_TEST_PG or LEANRT_TEST_REDIS is not"
        );
        eprintln!("skipped: set LEANRT_TEST_PG and LEANRT_TEST_REDIS to run the cluster tests");
        return None;
    }
    Some(redis)
}

fn node_config(db: &str, redis: &str) -> Config {
    Config {
        db: db.to_owned(),
        redis: Some(redis.to_owned()),
        api_keys: vec![App {
            id: APP.into(),
            master_key: Some("clusterMaster".into()),
        }],
        ..config()
    }
}

/// `n` nodes on one new database and `redis`.
async fn nodes(n: usize, redis: &str) -> (String, Vec<ServerHandle>) {
    let db = test_db();
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(start(node_config(&db, redis)).await);
    }
    (db, nodes)
}

async fn stop(nodes: Vec<ServerHandle>) {
    for node in nodes {
        node.shutdown().await.expect("shutdown");
    }
}

/// Reads frames until one with `cmd`; panics on anything else but pushes.
async fn until_cmd(c: &mut Client, cmd: &str) -> Value {
    loop {
        let f = c.recv().await;
        if f["cmd"] == cmd {
            return f;
        }
    }
}

async fn ping(c: &mut Client, ids: &[&str]) -> Vec<String> {
    let r = c
        .request_among_pushes(json!({"cmd":"session","op":"query","sessionPeerIds":ids}))
        .await;
    let mut on: Vec<String> = r["onlineSessionPeerIds"]
        .as_array()
        .expect("online ids")
        .iter()
        .map(|v| v.as_str().expect("id").to_owned())
        .collect();
    on.sort();
    on
}

#[tokio::test]
async fn messages_acks_and_receipts_cross_nodes_to_every_device() {
    let Some(redis) = redis_url() else { return };
    let (_, nodes) = nodes(2, &redis).await;
    let (n1, n2) = (nodes[0].local_addr(), nodes[1].local_addr());
    let mut alice = Client::open(n1, "cl1-alice").await;
    let mut bob1 = Client::open(n1, "cl1-bob").await;
    let mut bob2 = Client::open(n2, "cl1-bob").await;
    let cid = alice.start(&["cl1-bob"]).await;
    until_cmd(&mut bob1, "conv").await;
    until_cmd(&mut bob2, "conv").await;
    let ack = alice
        .request(json!({"cmd":"direct","cid":cid,"msg":"hi","r":true,"transient":false}))
        .await;
    assert_eq!(ack["cmd"], "ack");
    for bob in [&mut bob1, &mut bob2] {
        let got = until_cmd(bob, "direct").await;
        assert_eq!((got["msg"].as_str(), &got["id"]), (Some("hi"), &ack["uid"]));
        assert!(got.get("offline").is_none(), "live, not offline: {got}");
    }
    // The device on the other node acks: the receipt crosses back to the sender.
    bob2.send(json!({"cmd":"ack","cid":cid,"mid":ack["uid"]}))
        .await;
    let rcp = until_cmd(&mut alice, "rcp").await;
    assert_eq!((&rcp["id"], &rcp["cid"]), (&ack["uid"], &json!(cid)));
    alice.silent().await;
    // Bob answers from the other node; the sending device does not get its own.
    bob2.say(&cid, "back").await;
    assert_eq!(until_cmd(&mut alice, "direct").await["msg"], "back");
    assert_eq!(until_cmd(&mut bob1, "direct").await["msg"], "back");
    bob2.silent().await;
    for c in [alice, bob1, bob2] {
        c.close().await;
    }
    stop(nodes).await;
}

#[tokio::test]
async fn a_conversation_fed_on_two_nodes_reaches_a_third_session_in_seq_order() {
    let Some(redis) = redis_url() else { return };
    let (_, nodes) = nodes(2, &redis).await;
    let (n1, n2) = (nodes[0].local_addr(), nodes[1].local_addr());
    let mut a = Client::open(n1, "cl2-a").await;
    let mut carol = Client::open(n1, "cl2-carol").await;
    let cid = a.start(&["cl2-b", "cl2-carol"]).await;
    until_cmd(&mut carol, "conv").await;
    let b = Client::open(n2, "cl2-b").await;
    const EACH: usize = 100;
    let (a, b) = tokio::join!(
        a.say_numbered(&cid, "a", EACH),
        b.say_numbered(&cid, "b", EACH)
    );
    let mut got = Vec::new();
    while got.len() < 2 * EACH {
        match carol.next_event(Duration::from_secs(5)).await {
            Some(Event::Frame(f)) if f["cmd"] == "direct" => {
                got.push(f["id"].as_str().expect("id").to_owned());
            }
            Some(Event::Frame(_)) => {}
            other => {
                let logged: Vec<String> = all_logs(&mut carol, &cid)
                    .await
                    .iter()
                    .map(|m| m["msgId"].as_str().expect("msgId").to_owned())
                    .collect();
                let missing: Vec<usize> = logged
                    .iter()
                    .enumerate()
                    .filter(|(_, id)| !got.contains(id))
                    .map(|(seq, _)| seq + 1)
                    .collect();
                panic!(
                    "after {} messages, {other:?}; seqs never delivered: {missing:?}",
                    got.len()
                );
            }
        }
    }
    carol.silent().await;
    let logged: Vec<String> = all_logs(&mut carol, &cid)
        .await
        .iter()
        .map(|m| m["msgId"].as_str().expect("msgId").to_owned())
        .collect();
    assert_eq!(got, logged, "live delivery in seq order, each message once");
    for c in [a, b, carol] {
        c.close().await;
    }
    stop(nodes).await;
}

#[tokio::test]
async fn a_login_under_the_same_tag_displaces_the_device_on_another_node() {
    let Some(redis) = redis_url() else { return };
    let (_db, nodes) = nodes(2, &redis).await;
    let (n1, n2) = (nodes[0].local_addr(), nodes[1].local_addr());
    let mut phone = Client::open_tagged(n1, "cl-dev", Some(("mobile", "phone"))).await;
    let _web = Client::open_tagged(n2, "cl-dev", Some(("web", "laptop"))).await;
    let mut tablet = Client::open_tagged(n2, "cl-dev", Some(("mobile", "tablet"))).await;
    assert_eq!(
        until_cmd(&mut phone, "session").await,
        json!({"cmd":"session","op":"closed","code":4111,"reason":"SESSION_CONFLICT","peerId":"cl-dev"})
    );
    assert_eq!(phone.closed().await, Some(4111));
    assert_eq!(ping(&mut tablet, &["cl-dev"]).await, ["cl-dev"]);
    stop(nodes).await;
}

#[tokio::test]
async fn presence_rooms_limits_and_kicks_span_nodes() {
    let Some(redis) = redis_url() else { return };
    let db = test_db();
    let limited = |redis: &str| Config {
        limits: Limits {
            sessions_per_client: 2,
            ..Limits::default()
        },
        ..node_config(&db, redis)
    };
    let nodes = vec![start(limited(&redis)).await, start(limited(&redis)).await];
    let (n1, n2) = (nodes[0].local_addr(), nodes[1].local_addr());
    let mut alice = Client::open(n1, "cl3-alice").await;
    let mut bob = Client::open(n2, "cl3-bob").await;
    assert_eq!(
        ping(&mut alice, &["cl3-bob", "cl3-nobody"]).await,
        ["cl3-bob"]
    );
    // A chat room with participants on both nodes.
    let room = alice
        .request(json!({"cmd":"conv","op":"start","transient":true,"attr":{"name":"hall"}}))
        .await;
    let cid = room["cid"].as_str().expect("cid").to_owned();
    let joined = bob
        .request(json!({"cmd":"conv","op":"add","cid":cid,"m":["cl3-bob"]}))
        .await;
    assert_eq!(joined["op"], "added", "{joined}");
    let mut carol = Client::open(n2, "cl3-carol").await;
    carol
        .request(json!({"cmd":"conv","op":"add","cid":cid,"m":["cl3-carol"]}))
        .await;
    let count = alice
        .request(json!({"cmd":"conv","op":"count","cid":cid}))
        .await;
    assert_eq!(count["count"], 3, "{count}");
    alice.say(&cid, "to the hall").await;
    for c in [&mut bob, &mut carol] {
        assert_eq!(until_cmd(c, "direct").await["msg"], "to the hall");
    }
    // Two sessions per clientId across both nodes; the third is refused.
    let bob2 = Client::open(n1, "cl3-bob").await;
    let mut bob3 = Client::connect(n1).await;
    bob3.send(json!({"cmd":"session","op":"open","appId":APP,"peerId":"cl3-bob"}))
        .await;
    let refused = bob3.recv().await;
    assert_eq!(
        (refused["op"].as_str(), &refused["code"]),
        (Some("closed"), &json!(4112))
    );
    // A kick through the REST API of one node closes the sessions on both.
    let (head, body) = http(
        n1,
        "POST /1.2/rtm/clients/cl3-bob/kick HTTP/1.1\r\nHost: x\r\nX-LC-Id: app\r\nX-LC-Key: clusterMaster,master\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head} {body}");
    let mut bob2 = bob2;
    for c in [&mut bob, &mut bob2] {
        assert_eq!(c.closed().await, Some(4115));
    }
    for c in [alice, carol] {
        c.close().await;
    }
    stop(nodes).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_killed_mid_burst_loses_nothing_acked_and_is_offline_within_the_lease() {
    let Some(redis) = redis_url() else { return };
    let db = test_db();
    let node = start(node_config(&db, &redis)).await;
    let (mut killed, addr) =
        spawn_binary_with(std::path::Path::new(&db), &["--redis", &redis], &[]);
    let mut alice = Client::open(node.local_addr(), "cl4-alice").await;
    let cid = alice.start(&["cl4-bob"]).await;
    // Bob sends on the doomed node, one message after another, counting acks.
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (counted, to) = (count.clone(), cid.clone());
    let burst = tokio::spawn(async move {
        let mut bob = Client::open(addr, "cl4-bob").await;
        let mut acked = Vec::new();
        for n in 0..100_000 {
            bob.send(json!({"cmd":"direct","cid":to,"msg":format!("b{n}"),"i":n + 1,"r":false,"transient":false}))
                .await;
            loop {
                match bob.next_event(Duration::from_secs(3)).await {
                    Some(Event::Frame(f)) if f["cmd"] == "ack" => {
                        acked.push(f["uid"].as_str().expect("uid").to_owned());
                        counted.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Some(Event::Frame(_)) => {}
                    _ => return acked,
                }
            }
        }
        acked
    });
    while count.load(Ordering::Relaxed) < 100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(ping(&mut alice, &["cl4-bob"]).await, ["cl4-bob"]);
    killed.0.kill().expect("kill -9");
    let _ = killed.0.wait();
    let started = Instant::now();
    let acked = burst.await.expect("the burst");
    // Alice got bob's messages live; once they stop, read the history.
    while let Some(Event::Frame(_)) = alice.next_event(Duration::from_millis(500)).await {}
    // Every acked message is stored (read through the other node).
    let logged: std::collections::HashSet<String> = all_logs(&mut alice, &cid)
        .await
        .iter()
        .map(|m| m["msgId"].as_str().expect("msgId").to_owned())
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !logged.contains(*id)).collect();
    assert!(
        acked.len() >= 100 && lost.is_empty(),
        "{} acked, lost: {lost:?}",
        acked.len()
    );
    while !ping(&mut alice, &["cl4-bob"]).await.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still online after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    alice.close().await;
    node.shutdown().await.expect("shutdown");
}

/// Runs `redis-cli -u URL args…`.
fn redis_cli(url: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-u", url])
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn pushes_lost_while_a_node_was_unsubscribed_are_caught_up_from_the_store() {
    let Some(redis) = redis_url() else { return };
    let (_, nodes) = nodes(2, &redis).await;
    let (n1, n2) = (nodes[0].local_addr(), nodes[1].local_addr());
    let mut alice = Client::open(n1, "cl5-alice").await;
    let mut carol = Client::open(n2, "cl5-carol").await;
    let cid = alice.start(&["cl5-carol"]).await;
    until_cmd(&mut carol, "conv").await;
    let m1 = alice.say(&cid, "m1").await;
    assert_eq!(until_cmd(&mut carol, "direct").await["id"], m1["uid"]);
    let reads = nodes[1].stats().reads.load(Ordering::Relaxed);
    // Every subscription dropped: what is published before the nodes resubscribe
    // (500 ms later) is lost, and read from the store once they have.
    redis_cli(&redis, &["CLIENT", "KILL", "TYPE", "pubsub"]);
    let m2 = alice.say(&cid, "m2").await;
    let got = until_cmd(&mut carol, "direct").await;
    assert_eq!(
        (&got["id"], got.get("offline")),
        (&m2["uid"], None),
        "a live push: {got}"
    );
    assert!(
        nodes[1].stats().reads.load(Ordering::Relaxed) > reads,
        "carol's node read what was owed"
    );
    let m3 = alice.say(&cid, "m3").await;
    assert_eq!(until_cmd(&mut carol, "direct").await["id"], m3["uid"]);
    carol.silent().await;
    for c in [alice, carol] {
        c.close().await;
    }
    stop(nodes).await;
}

/// A private Redis on a free port, for the test that restarts it.
struct OwnRedis {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    fn start(port: u16, dir: std::path::PathBuf) -> OwnRedis {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--loglevel", "warning", "--dir"])
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server");
        let url = format!("redis://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !redis_cli(&url, &["PING"]).contains("PONG") {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        OwnRedis {
            port,
            dir,
            child: Some(child),
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn sends_commit_while_redis_is_down_and_nodes_reassert_when_it_returns() {
    let Some(_) = redis_url() else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut own = OwnRedis::start(port, temp_dir("cluster-redis"));
    let (_, nodes) = nodes(2, &own.url()).await;
    let (n1, n2) = (nodes[0].local_addr(), nodes[1].local_addr());
    let mut alice = Client::open(n1, "cl6-alice").await;
    let mut bob = Client::open(n2, "cl6-bob").await;
    let cid = alice.start(&["cl6-bob"]).await;
    until_cmd(&mut bob, "conv").await;
    // Redis goes away, and comes back empty on the same port.
    own.stop();
    let acked = alice.say(&cid, "while away").await;
    assert_eq!(acked["cmd"], "ack");
    let dir = own.dir.clone();
    let own = OwnRedis::start(port, dir);
    // The nodes resubscribe and re-assert their sessions by themselves.
    let deadline = Instant::now() + Duration::from_secs(15);
    while ping(&mut alice, &["cl6-bob"]).await.is_empty() {
        assert!(Instant::now() < deadline, "bob never re-asserted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Live delivery across nodes resumes; the message sent meanwhile is repaired.
    let next = alice.say(&cid, "after").await;
    let got = [
        until_cmd(&mut bob, "direct").await,
        until_cmd(&mut bob, "direct").await,
    ];
    assert_eq!(
        [&got[0]["id"], &got[1]["id"]],
        [&acked["uid"], &next["uid"]]
    );
    for c in [alice, bob] {
        c.close().await;
    }
    stop(nodes).await;
    drop(own);
}

#[tokio::test]
async fn a_login_signature_used_on_one_node_is_refused_on_the_other() {
    use leanrt_protocol::signature::{sign, signed_string, Action};
    let Some(redis) = redis_url() else { return };
    let db = test_db();
    let signed = |redis: &str| Config {
        apps: vec![App {
            id: APP.into(),
            master_key: Some("clusterSigned".into()),
        }],
        ..node_config(&db, redis)
    };
    let nodes = vec![start(signed(&redis)).await, start(signed(&redis)).await];
    let (t, n) = (now_secs(), format!("cl7-{}", rand::random::<u64>()));
    let s = sign(
        "clusterSigned",
        &signed_string(APP, "cl7-dave", Action::Open, &t.to_string(), &n),
    );
    let open =
        json!({"cmd":"session","op":"open","appId":APP,"peerId":"cl7-dave","t":t,"n":n,"s":s});
    let mut first = Client::connect(nodes[0].local_addr()).await;
    assert_eq!(first.request(open.clone()).await["op"], "opened");
    // The same nonce on the other node is a replay.
    let mut again = Client::connect(nodes[1].local_addr()).await;
    again.send(open).await;
    let refused = again.recv().await;
    assert_eq!(
        (refused["op"].as_str(), &refused["code"]),
        (Some("closed"), &json!(4102)),
        "{refused}"
    );
    first.close().await;
    stop(nodes).await;
}
