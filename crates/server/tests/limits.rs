//! One test per configurable limit (issue 6), filling what `bad_input.rs` does not
//! cover: that each limit follows its setting (not only its default), connections per
//! server, sessions per clientId, and that rate limiting answers every pipelined
//! request (never a silent drop). The defaults are asserted once, as documented in
//! `leanrt-server --help`.

mod common;

use std::time::Duration;

use common::*;
use leanrt_server::Limits;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Error as WsError;

#[test]
fn documented_defaults() {
    let l = Limits::default();
    assert_eq!(l.max_frame_bytes, 64 * 1024);
    assert_eq!(l.max_message_bytes, 5120, "5 KB, as LeanCloud had");
    assert_eq!(l.max_members, 500);
    assert_eq!(l.frames_per_second, 1000);
    assert_eq!(l.sessions_per_client, 64);
    assert_eq!(l.outbound_queue, 1024);
    assert_eq!(l.signature_window, Duration::from_secs(3600));
    assert_eq!(Config::default().max_connections, 100_000);
}

#[tokio::test]
async fn max_frame_bytes_follows_its_setting() {
    let mut cfg = config();
    cfg.limits.max_frame_bytes = 1024;
    let server = start(cfg).await;
    let addr = server.local_addr();
    let mut c = Client::open(addr, "alice").await;
    // Just under: answered (an unknown command gets an error frame, not a close).
    let under = format!(r#"{{"cmd":"nope","pad":"{}"}}"#, "x".repeat(900));
    assert!(under.len() <= 1024);
    c.send_text(under).await;
    assert_eq!(c.recv().await["cmd"], "error");
    c.send_text(format!(r#"{{"cmd":"nope","pad":"{}"}}"#, "x".repeat(1100)))
        .await;
    assert_eq!(c.closed().await, Some(4109));
    // The server goes on serving others.
    let mut other = Client::open(addr, "bob").await;
    other.send_text("{}").await;
    assert_eq!(other.recv().await, json!({}));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn max_message_bytes_follows_its_setting_and_counts_bytes() {
    let mut cfg = config();
    cfg.limits.max_message_bytes = 100;
    let server = start(cfg).await;
    let mut c = Client::open(server.local_addr(), "alice").await;
    let cid = c.start(&[]).await;
    c.say(&cid, &"x".repeat(100)).await;
    let ack = c
        .request(json!({"cmd":"direct","cid":cid,"msg":"x".repeat(101)}))
        .await;
    assert_eq!(
        (ack["cmd"].as_str(), ack["code"].as_u64()),
        (Some("ack"), Some(4109)),
        "{ack}"
    );
    // 60 characters, 120 bytes of UTF-8: over a limit stated in bytes.
    let ack = c
        .request(json!({"cmd":"direct","cid":cid,"msg":"é".repeat(60)}))
        .await;
    assert_eq!(ack["code"], 4109, "{ack}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn max_members_follows_its_setting() {
    let mut cfg = config();
    cfg.limits.max_members = 3;
    let server = start(cfg).await;
    let mut c = Client::open(server.local_addr(), "alice").await;
    let err = c
        .request(json!({"cmd":"conv","op":"start","m":["b","c","d"]}))
        .await;
    assert_eq!(
        (err["cmd"].as_str(), err["code"].as_u64()),
        (Some("error"), Some(4304)),
        "{err}"
    );
    let cid = c.start(&["b", "c"]).await;
    let err = c
        .request(json!({"cmd":"conv","op":"add","cid":cid,"m":["d"]}))
        .await;
    assert_eq!(err["code"], 4304, "{err}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn connections_per_server_refuses_with_503_then_recovers() {
    let mut cfg = config();
    cfg.max_connections = 3;
    let server = start(cfg).await;
    let addr = server.local_addr();
    let a = Client::open(addr, "a").await;
    let _b = Client::open(addr, "b").await;
    let _c = Client::open(addr, "c").await;
    match tokio_tungstenite::connect_async(format!("ws://{addr}/")).await {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status().as_u16(), 503);
            let body = response.body().as_deref().unwrap_or_default();
            let body: Value = serde_json::from_slice(body).expect("a JSON body");
            assert_eq!(body["code"], 4116, "{body}");
        }
        Err(e) => panic!("expected HTTP 503, got {e}"),
        Ok(_) => panic!("a 4th connection was accepted with max_connections = 3"),
    }
    // A freed slot is usable again.
    a.close().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(format!("ws://{addr}/")).await {
            drop(ws);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no slot freed after a close"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn sessions_per_client_refuses_with_4112_then_recovers() {
    let mut cfg = config();
    cfg.limits.sessions_per_client = 2;
    let server = start(cfg).await;
    let addr = server.local_addr();
    let first = Client::open(addr, "alice").await;
    let _second = Client::open(addr, "alice").await;
    let open =
        json!({"cmd":"session","op":"open","appId":APP,"ua":"js/2.4.0","peerId":"alice","i":1});
    let mut third = Client::connect(addr).await;
    third.send(open.clone()).await;
    // Like the other login refusals (4102), a push without `i`.
    let r = third.recv().await;
    assert_eq!(
        (r["op"].as_str(), r["code"].as_u64()),
        (Some("closed"), Some(4112)),
        "{r}"
    );
    assert_eq!(third.closed().await, Some(4112));
    // Another clientId is not affected.
    let _bob = Client::open(addr, "bob").await;
    // Once a session ends, alice may open another.
    first.close().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = Client::connect(addr).await;
        c.send(open.clone()).await;
        let r = c.recv().await;
        if r["op"] == "opened" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still refused: {r}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.shutdown().await.expect("shutdown");
}

/// Sends `n` messages to `cid` without waiting for answers; their `i` are 10 000 + k.
async fn send_pipelined(c: &mut Client, cid: &str, n: i64) {
    for i in 0..n {
        c.send(json!({"cmd":"direct","cid":cid,"msg":"m","i":10_000 + i}))
            .await;
    }
}

#[tokio::test]
async fn rate_limit_answers_every_pipelined_request() {
    let mut cfg = config();
    cfg.limits.frames_per_second = 50;
    let server = start(cfg).await;
    let mut c = Client::open(server.local_addr(), "alice").await;
    let cid = c.start(&[]).await;
    const N: i64 = 200;
    send_pipelined(&mut c, &cid, N).await;
    let mut answered = std::collections::BTreeSet::new();
    let mut limited = 0;
    while (answered.len() as i64) < N {
        let Some(Event::Frame(f)) = c.next_event(Duration::from_secs(5)).await else {
            panic!(
                "{} of {N} pipelined sends answered; the rest were dropped silently",
                answered.len()
            );
        };
        let i = f["i"].as_i64().unwrap_or_else(|| panic!("no i: {f}"));
        assert_eq!(f["cmd"], "ack", "{f}");
        if f["code"] == 4112 {
            assert_eq!(f["reason"], "TOO_MANY_REQUESTS");
            limited += 1;
        } else {
            assert!(f["uid"].is_string(), "{f}");
        }
        assert!(answered.insert(i), "two answers for i={i}");
    }
    assert!(limited >= N / 2, "only {limited} of {N} limited at 50/s");
    // The connection is still usable once the bucket refills.
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.say(&cid, "after").await;
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn recipient_acks_are_not_rate_limited() {
    let mut cfg = config();
    cfg.limits.frames_per_second = 5;
    let server = start(cfg).await;
    let mut alice = Client::open(server.local_addr(), "alice").await;
    let cid = alice.start(&["bob"]).await;
    let mid = alice.say(&cid, "one").await["uid"]
        .as_str()
        .expect("uid")
        .to_owned();
    let mut bob = Client::open(server.local_addr(), "bob").await;
    let pushed = bob.recv().await;
    assert_eq!(
        (pushed["id"].as_str(), pushed["offline"].as_bool()),
        (Some(mid.as_str()), Some(true))
    );
    // Far more acks than the bucket holds: none is answered, and none takes a token.
    for _ in 0..50 {
        bob.send(json!({"cmd":"ack","cid":cid,"mid":mid})).await;
    }
    bob.silent().await;
    let ack = bob.say(&cid, "still allowed").await;
    assert!(ack["uid"].is_string(), "{ack}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn rate_limit_zero_means_unlimited() {
    let mut cfg = config();
    cfg.limits.frames_per_second = 0;
    let server = start(cfg).await;
    let mut c = Client::open(server.local_addr(), "alice").await;
    let cid = c.start(&[]).await;
    const N: i64 = 3000;
    send_pipelined(&mut c, &cid, N).await;
    for i in 0..N {
        let f = c.recv().await;
        assert_eq!(
            (f["cmd"].as_str(), f["i"].as_i64()),
            (Some("ack"), Some(10_000 + i)),
            "{f}"
        );
        assert!(f["uid"].is_string(), "{f}");
    }
    server.shutdown().await.expect("shutdown");
}
