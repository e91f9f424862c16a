//! Defects found in review of the first core, one test each (each failed before its
//! fix).

mod common;

use std::time::Duration;

use common::*;
use leanrt_protocol::signature::{sign, signed_string, Action};
use serde_json::{json, Value};

/// Sends `frames` without waiting, then collects the replies by `i`.
async fn pipelined(c: &mut Client, frames: Vec<Value>) -> Vec<Value> {
    let n = frames.len();
    for (k, mut f) in frames.into_iter().enumerate() {
        f["i"] = json!(10_000 + k);
        c.send(f).await;
    }
    let mut replies = vec![Value::Null; n];
    let mut got = 0;
    while got < n {
        let f = c.recv().await;
        if let Some(k) = f["i"].as_u64().and_then(|i| i.checked_sub(10_000)) {
            replies[k as usize] = f;
            got += 1;
        }
    }
    replies
}

#[tokio::test]
async fn replies_larger_than_any_write_buffer_arrive_whole() {
    // 2000 requests in a few seconds: more than the default rate limit lets through.
    let mut config = config();
    config.limits.frames_per_second = 0;
    let server = start(config).await;
    let addr = server.local_addr();
    let mut c = Client::open(addr, "alice").await;
    let cid = c.start(&[]).await;
    // 1000 messages of 5 KB: a 5 MB `logs` reply.
    let body = "x".repeat(5120);
    let sends = (0..1000)
        .map(|_| json!({"cmd":"direct","cid":cid,"msg":body}))
        .collect();
    for ack in pipelined(&mut c, sends).await {
        assert!(ack["uid"].is_string(), "{ack}");
    }
    let starts_ok = |replies: &[Value]| replies.iter().all(|r| r["op"] == "started");
    let logs = c
        .request(json!({"cmd":"logs","cid":cid,"limit":1000}))
        .await;
    let items = logs["logs"].as_array().expect("logs");
    assert_eq!(items.len(), 1000);
    assert!(items.iter().all(|l| l["data"] == json!(body)));
    // 1000 conversations of 40 members with long ids: a 3 MB `conv query` reply.
    let members: Vec<String> = (0..39).map(|k| format!("{k:0>60}")).collect();
    let starts = (0..1000)
        .map(|_| json!({"cmd":"conv","op":"start","m":members}))
        .collect();
    assert!(starts_ok(&pipelined(&mut c, starts).await));
    let found = c
        .request(json!({"cmd":"conv","op":"query","where":{"m":"alice"},"limit":1000}))
        .await;
    let results = found["results"].as_array().expect("results");
    assert_eq!(results.len(), 1000);
    assert!(results
        .iter()
        .filter(|r| r["objectId"] != json!(cid))
        .all(|r| r["m"].as_array().map(Vec::len) == Some(40)));
    server.shutdown().await.expect("shutdown");
}

/// `write(2)` calls of a process so far.
fn write_calls(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).expect("/proc io");
    io.lines()
        .find_map(|l| l.strip_prefix("syscw: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("syscw")
}

#[tokio::test]
async fn a_push_of_many_frames_takes_few_writes() {
    let dir = temp_dir("writes");
    let (child, addr) = spawn_binary(&dir.join("leanrt.db"));
    let mut a = Client::open(addr, "alice").await;
    let cid = a.start(&["bob"]).await;
    let sends = (0..500)
        .map(|n| json!({"cmd":"direct","cid":cid,"msg":format!("m{n}")}))
        .collect();
    pipelined(&mut a, sends).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = write_calls(child.0.id());
    let mut b = Client::open(addr, "bob").await;
    for _ in 0..500 {
        assert_eq!(b.recv().await["offline"], true);
    }
    let writes = write_calls(child.0.id()) - before;
    // One write per frame was 500 and more; buffered, a flush per batch of frames.
    assert!(writes < 100, "{writes} writes for 500 frames");
    drop(child);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn acks_of_messages_never_sent_cost_the_store_nothing() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    let cid = a.start(&["mallory"]).await;
    let mut m = Client::open(addr, "mallory").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stats = server.stats();
    let ops = |s: &leanrt_server::store::StoreStats| {
        use std::sync::atomic::Ordering::Relaxed;
        (s.operations.load(Relaxed), s.acks.load(Relaxed))
    };
    let before = ops(stats);
    for n in 0..20_000 {
        m.send(json!({"cmd":"ack","cid":cid,"mid":format!("made-up-{n}")}))
            .await;
    }
    // Still answering, and the flood never reached the writer.
    let pong = m
        .request(json!({"cmd":"session","op":"query","sessionPeerIds":["alice"]}))
        .await;
    assert_eq!(pong["onlineSessionPeerIds"], json!(["alice"]));
    assert_eq!(ops(stats), before);
    // A real ack still counts.
    a.say(&cid, "real").await;
    let got = m.recv().await;
    m.send(json!({"cmd":"ack","cid":cid,"mid":got["id"]})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ops(stats).1, before.1 + 1, "mallory's real ack");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_store_does_not_close_a_client_that_waits_on_it() {
    let dir = temp_dir("stall");
    let db = dir.join("leanrt.db");
    let mut config = config();
    config.db = db.to_string_lossy().into_owned();
    config.limits.outbound_queue = 32;
    let server = start(config).await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    let room = a
        .request(json!({"cmd":"conv","op":"start","transient":true}))
        .await["cid"]
        .as_str()
        .expect("cid")
        .to_owned();
    let conv = a.start(&[]).await;
    let mut b = Client::open(addr, "bob").await;
    b.request(json!({"cmd":"conv","op":"add","cid":room,"m":["bob"]}))
        .await;
    // Another process holds the write lock: alice's update waits for the writer.
    let lock = rusqlite::Connection::open(&db).expect("open");
    lock.execute_batch("BEGIN IMMEDIATE").expect("lock");
    a.send(json!({"cmd":"conv","op":"update","cid":conv,"attr":{"x":1},"i":77}))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Meanwhile three times more pushes than her queue holds arrive for her, slowly
    // enough for any connection that drains its queue.
    for n in 0..100 {
        b.send(json!({"cmd":"direct","cid":room,"msg":format!("t{n}"),"transient":true}))
            .await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut pushed = 0;
    while pushed < 100 {
        let f = a.recv().await;
        assert_eq!(f["cmd"], "direct", "{f}");
        pushed += 1;
    }
    lock.execute_batch("COMMIT").expect("unlock");
    let updated = a.recv().await;
    assert_eq!(
        (&updated["op"], &updated["i"]),
        (&json!("updated"), &json!(77))
    );
    server.shutdown().await.expect("shutdown");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn conversation_records_are_capped_and_rooms_belong_to_their_creator() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    let cid = a.start(&["bob"]).await;
    // New top-level keys are accepted until the record would pass 32 KiB.
    let chunk = "y".repeat(4000);
    let mut refused = None;
    for k in 0..12 {
        let r = a
            .request(json!({"cmd":"conv","op":"update","cid":cid,"attr":{format!("k{k}"): chunk}}))
            .await;
        if r["cmd"] == "error" {
            refused = Some((k, r));
            break;
        }
    }
    let (k, r) = refused.expect("the cap was never reached");
    assert_eq!(
        k, 8,
        "eight 4000-byte keys fit in 32 KiB, the ninth does not"
    );
    assert_eq!(r["code"], 4306, "{r}");
    assert!(
        r["detail"].as_str().is_some_and(|d| d.contains("32768")),
        "{r}"
    );
    let big = json!({"cmd":"conv","op":"start","m":["bob"],"attr":{"blob":"z".repeat(40_000)}});
    assert_eq!(a.request(big).await["code"], 4301);
    // A transient conversation: only its creator may update it.
    let room = a
        .request(json!({"cmd":"conv","op":"start","transient":true}))
        .await["cid"]
        .clone();
    let mut b = Client::open(addr, "bob").await;
    let r = b
        .request(json!({"cmd":"conv","op":"update","cid":room,"attr":{"name":"mine"}}))
        .await;
    assert_eq!(r["code"], 4309, "{r}");
    let r = a
        .request(json!({"cmd":"conv","op":"update","cid":room,"attr":{"name":"lobby"}}))
        .await;
    assert_eq!(r["op"], "updated", "{r}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn one_integer_parser_takes_numeric_strings_everywhere() {
    let server = start_default().await;
    let mut a = Client::open(server.local_addr(), "alice").await;
    for _ in 0..7 {
        a.start(&[]).await;
    }
    let cid = a.start(&[]).await;
    for n in 0..7 {
        a.say(&cid, &format!("m{n}")).await;
    }
    let q = a
        .request(json!({"cmd":"conv","op":"query","where":{"m":"alice"},"limit":"5"}))
        .await;
    assert_eq!(q["results"].as_array().map(Vec::len), Some(5), "{q}");
    let logs = a.request(json!({"cmd":"logs","cid":cid,"limit":"5"})).await;
    assert_eq!(logs["logs"].as_array().map(Vec::len), Some(5), "{logs}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn app_keys_may_contain_commas_and_an_app_id_is_given_once() {
    let dir = temp_dir("apps");
    let db = dir.join("leanrt.db");
    let key = "k,with,commas";
    let (child, addr) = spawn_binary_with(&db, &[], &[("LEANRT_APP", "app:k,with,commas other")]);
    for (app, status) in [("app", "200"), ("other", "200"), ("with", "404")] {
        let (head, _) = http(addr, &format!("GET /v1/route?appId={app} HTTP/1.0\r\n\r\n")).await;
        assert!(head.contains(status), "{app}: {head}");
    }
    let t = now_secs();
    let s = sign(
        key,
        &signed_string("app", "alice", Action::Open, &t.to_string(), "n1"),
    );
    let mut c = Client::connect(addr).await;
    let r = c
        .request(json!({"cmd":"session","op":"open","appId":"app","peerId":"alice","t":t,"n":"n1","s":s}))
        .await;
    assert_eq!(r["op"], "opened", "{r}");
    drop(child);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leanrt-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--db",
            ":memory:",
            "--app",
            "a",
            "--app",
            "a:key",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"a\"") && err.contains("more than once"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
