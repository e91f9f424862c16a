//! Bad input gets an error frame or a close code, and never affects others.

mod common;

use common::*;
use serde_json::json;

fn bad(detail_contains: &str, frame: &serde_json::Value) {
    assert_eq!(frame["cmd"], "error", "{frame}");
    assert_eq!(frame["code"], 4200, "{frame}");
    assert_eq!(frame["reason"], "INTERNAL_ERROR");
    let detail = frame["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(detail_contains), "{detail:?} in {frame}");
}

#[tokio::test]
async fn malformed_frames_get_error_frames_and_the_connection_survives() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut bystander = Client::open(addr, "bob").await;
    let mut c = Client::open(addr, "alice").await;
    for text in ["not json", "[1,2]", "\"x\"", "5", "{\"cmd\":"] {
        c.send_text(text).await;
        let reply = c.recv().await;
        bad("JSON", &reply);
        assert!(reply.get("i").is_none());
        assert_eq!(reply["peerId"], "alice");
    }
    c.send_text(r#"{"cmd":5,"i":7}"#).await;
    let reply = c.recv().await;
    bad("must be strings", &reply);
    assert_eq!(reply["i"], 7);
    c.send_text(r#"{"cmd":"conv","op":"query","i":"7"}"#).await;
    bad("i must be a number", &c.recv().await);
    let reply = c.request(json!({"cmd":"nope","op":"x"})).await;
    bad("unknown command", &reply);
    let reply = c.request(json!({"cmd":"conv","op":"explode"})).await;
    bad("unknown command", &reply);
    c.send(json!({"cmd":"conv","op":"explode"})).await;
    bad("unknown command", &c.recv().await);
    // A request without i is refused, not executed.
    c.send(json!({"cmd":"conv","op":"start","m":[]})).await;
    bad("i is required", &c.recv().await);
    c.silent().await;
    // Wrong field types.
    bad(
        "m must be",
        &c.request(json!({"cmd":"conv","op":"start","m":5})).await,
    );
    bad(
        "attr must be",
        &c.request(json!({"cmd":"conv","op":"start","attr":[1]}))
            .await,
    );
    bad(
        "invalid clientId",
        &c.request(json!({"cmd":"conv","op":"start","m":["x".repeat(65)]}))
            .await,
    );
    bad(
        "cid must be",
        &c.request(json!({"cmd":"conv","op":"count","cid":1})).await,
    );
    bad(
        "limit must be",
        &c.request(json!({"cmd":"logs","cid":"x","limit":"many"}))
            .await,
    );
    let ack = c
        .request(json!({"cmd":"direct","cid":"x","msg":{"a":1}}))
        .await;
    assert_eq!(
        (ack["cmd"].clone(), ack["code"].clone()),
        (json!("ack"), json!(4200))
    );
    c.send(json!({"cmd":"ack","cid":5})).await;
    bad("cid must be", &c.recv().await);
    c.send_binary().await;
    bad("binary", &c.recv().await);
    // Still fine, and so is everyone else.
    c.send_text("{}").await;
    assert_eq!(c.recv().await, json!({}));
    bystander.silent().await;
    let pong = bystander
        .request(json!({"cmd":"session","op":"query","sessionPeerIds":["alice"]}))
        .await;
    assert_eq!(pong["onlineSessionPeerIds"], json!(["alice"]));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn commands_before_open() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut c = Client::connect(addr).await;
    let err = c
        .request(json!({"cmd":"conv","op":"query","where":{}}))
        .await;
    assert_eq!(
        err,
        json!({"cmd":"error","i":err["i"],"code":4105,"reason":"SESSION_REQUIRED"})
    );
    let err = c.request(json!({"cmd":"direct","cid":"x","msg":"m"})).await;
    assert_eq!(
        err,
        json!({"cmd":"ack","i":err["i"],"code":4105,"reason":"SESSION_REQUIRED"})
    );
    c.send(json!({"cmd":"ack","cid":"x","mid":"y"})).await;
    assert_eq!(c.closed().await, Some(4105));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn login_refusals_close_with_their_code() {
    let server = start(Config {
        apps: vec![App {
            id: APP.into(),
            master_key: None,
        }],
        ..config()
    })
    .await;
    let addr = server.local_addr();
    for (frame, code, reason) in [
        (
            json!({"cmd":"session","op":"open","appId":APP,"peerId":"x".repeat(65),"i":1}),
            4103,
            "INVALID_LOGIN",
        ),
        (
            json!({"cmd":"session","op":"open","appId":APP,"peerId":7,"i":1}),
            4103,
            "INVALID_LOGIN",
        ),
        (
            json!({"cmd":"session","op":"open","appId":"other","peerId":"a","i":1}),
            4100,
            "APP_NOT_AVAILABLE",
        ),
        (
            json!({"cmd":"session","op":"open","peerId":"a","i":1}),
            4100,
            "APP_NOT_AVAILABLE",
        ),
    ] {
        let mut c = Client::connect(addr).await;
        c.send(frame).await;
        assert_eq!(
            c.recv().await,
            json!({"cmd":"session","op":"closed","code":code,"reason":reason})
        );
        assert_eq!(c.closed().await, Some(code));
    }
    // 64 characters are fine.
    let _ok = Client::open(addr, &"x".repeat(64)).await;
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn oversized_messages_and_frames() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut c = Client::open(addr, "alice").await;
    let cid = c.start(&[]).await;
    let ack = c
        .request(json!({"cmd":"direct","cid":cid,"msg":"x".repeat(5121)}))
        .await;
    assert_eq!(
        ack,
        json!({"cmd":"ack","i":ack["i"],"code":4109,"reason":"FRAME_TOO_LONG","peerId":"alice"})
    );
    c.say(&cid, &"x".repeat(5120)).await;
    c.send_text(format!("{{\"pad\":\"{}\"}}", "x".repeat(70 * 1024)))
        .await;
    assert_eq!(c.closed().await, Some(4109));
    let mut other = Client::open(addr, "bob").await;
    other.send_text("{}").await;
    assert_eq!(other.recv().await, json!({}));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn more_than_500_members_is_refused() {
    let server = start_default().await;
    let mut c = Client::open(server.local_addr(), "alice").await;
    let many: Vec<String> = (0..500).map(|n| format!("u{n}")).collect();
    let err = c.request(json!({"cmd":"conv","op":"start","m":many})).await;
    assert_eq!(
        (err["cmd"].clone(), err["code"].clone()),
        (json!("error"), json!(4304))
    );
    let ok = c
        .request(json!({"cmd":"conv","op":"start","m":many[..499]}))
        .await;
    assert_eq!(ok["op"], "started");
    let err = c
        .request(json!({"cmd":"conv","op":"add","cid":ok["cid"],"m":["one-more"]}))
        .await;
    assert_eq!(err["code"], 4304);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn rate_limit_answers_instead_of_dropping() {
    let mut cfg = config();
    cfg.limits.frames_per_second = 5;
    let server = start(cfg).await;
    let mut c = Client::open(server.local_addr(), "alice").await;
    let cid = c.start(&[]).await;
    let mut limited = 0;
    for _ in 0..10 {
        let ack = c.request(json!({"cmd":"direct","cid":cid,"msg":"m"})).await;
        if ack["code"] == 4112 {
            assert_eq!(ack["reason"], "TOO_MANY_REQUESTS");
            limited += 1;
        } else {
            assert!(ack["uid"].is_string());
        }
    }
    assert!(limited >= 4, "{limited} limited");
    let err = c.request(json!({"cmd":"logs","cid":cid})).await;
    assert_eq!(
        (err["cmd"].clone(), err["code"].clone()),
        (json!("error"), json!(4112))
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_consumer_that_stops_reading_is_closed_without_stalling_the_sender() {
    let mut cfg = config();
    cfg.limits.outbound_queue = 2;
    cfg.limits.frames_per_second = 100_000;
    let server = start(cfg).await;
    let addr = server.local_addr();
    let mut sender = Client::open(addr, "alice").await;
    let mut victim = Client::open(addr, "bob").await;
    let cid = sender.start(&["bob"]).await;
    let body = "x".repeat(5000);
    let started = std::time::Instant::now();
    for _ in 0..2500 {
        let ack = sender
            .request(json!({"cmd":"direct","cid":cid,"msg":body}))
            .await;
        assert!(ack["uid"].is_string());
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let code = victim.closed().await;
    assert!(matches!(code, Some(4117) | None), "{code:?}");
    let pong = sender
        .request(json!({"cmd":"session","op":"query","sessionPeerIds":["bob"]}))
        .await;
    assert_eq!(pong["onlineSessionPeerIds"], json!([]));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn hostile_values_are_refused_without_harm() {
    let server = start_default().await;
    let mut c = Client::open(server.local_addr(), "alice").await;
    let cid = c.start(&[]).await;
    // A dotted path of 20 000 segments: refused, not recursed into.
    let deep = vec!["a"; 20_000].join(".");
    let r = c
        .request(json!({"cmd":"conv","op":"update","cid":cid,"attr":{ deep: 1 }}))
        .await;
    assert_eq!(
        (r["cmd"].as_str(), r["code"].as_i64()),
        (Some("error"), Some(4306)),
        "{r}"
    );
    // Deep, but within the limit: stored, and read back whole.
    let path = format!("attr.{}", vec!["b"; 30].join("."));
    let r = c
        .request(json!({"cmd":"conv","op":"update","cid":cid,"attr":{ path: {"x": [1]} }}))
        .await;
    assert_eq!(r["op"], "updated", "{r}");
    let found = c
        .request(json!({"cmd":"conv","op":"query","where":{"objectId":cid}}))
        .await;
    let mut v = &found["results"][0]["attr"];
    for _ in 0..30 {
        v = &v["b"];
    }
    assert_eq!(v, &json!({"x": [1]}), "{found}");
    // Dates far outside any calendar: no match, no overflow.
    for date in ["300000000-01-01T00:00:00Z", "-9999999999-01-01T00:00:00Z"] {
        let r = c
            .request(json!({"cmd":"conv","op":"query","where":{"lm":{"$gt":{"__type":"Date","iso":date}}}}))
            .await;
        assert_eq!(r["op"], "results", "{r}");
    }
    c.say(&cid, "still serving").await;
    server.shutdown().await.expect("shutdown");
}
