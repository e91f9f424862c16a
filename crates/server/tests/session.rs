//! Router, heartbeat, session open/query/close and multi-device presence.

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn router_answers_with_cors_and_the_bound_address() {
    let server = start_default().await;
    let addr = server.local_addr();
    let (head, body) = http(
        addr,
        "GET /v1/route?_t=1&appId=anything&secure=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("Access-Control-Allow-Origin: *"), "{head}");
    let route: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(route["server"], json!(format!("ws://{addr}/")));
    assert_eq!(route["secondary"], route["server"]);
    assert_eq!(route["ttl"], json!(3600));
    assert_eq!(route["groupId"], "g0");

    let (head, body) = http(
        addr,
        "OPTIONS /v1/route HTTP/1.1\r\nHost: x\r\nOrigin: http://a\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 204"), "{head}");
    assert!(head.contains("Access-Control-Allow-Origin: *"));
    assert!(body.is_empty());

    let (head, _) = http(addr, "GET /nope HTTP/1.1\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn router_uses_public_url_and_rejects_unknown_apps() {
    let server = start(Config {
        public_url: Some("wss://rt.example.com/".into()),
        apps: vec![App {
            id: "known".into(),
            master_key: None,
        }],
        ..config()
    })
    .await;
    let addr = server.local_addr();
    let (head, body) = http(addr, "GET /v1/route?appId=known HTTP/1.1\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 200"));
    let route: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(route["server"], "wss://rt.example.com/");
    let (head, body) = http(addr, "GET /v1/route?appId=other HTTP/1.1\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    assert!(head.contains("Access-Control-Allow-Origin: *"));
    let err: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(err, json!({"code": 4100, "error": "APP_NOT_AVAILABLE"}));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn heartbeat_is_echoed_before_and_after_open() {
    let server = start_default().await;
    let mut c = Client::connect(server.local_addr()).await;
    c.send_text("{}").await;
    assert_eq!(c.recv().await, json!({}));
    let mut c = Client::open(server.local_addr(), "alice").await;
    c.send_text("{}").await;
    assert_eq!(c.recv().await, json!({}));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn open_echoes_i_and_peer_id_and_anonymous_gets_an_id() {
    let server = start_default().await;
    let mut c = Client::connect(server.local_addr()).await;
    c.send_text(
        r#"{"cmd":"session","op":"open","appId":"app","ua":"js/2.4.0","i":2016,"peerId":"alice"}"#,
    )
    .await;
    assert_eq!(
        c.recv().await,
        json!({"cmd":"session","op":"opened","i":2016,"peerId":"alice"})
    );

    let mut anon = Client::connect(server.local_addr()).await;
    anon.send_text(r#"{"cmd":"session","op":"open","appId":"app","ua":"js/2.4.0","i":-65536}"#)
        .await;
    let opened = anon.recv().await;
    assert_eq!(opened["i"], json!(-65536));
    let id = opened["peerId"].as_str().expect("generated id");
    assert_eq!(id.len(), 22);
    // The anonymous session is addressable by its generated id.
    let pong = c
        .request(json!({"cmd":"session","op":"query","sessionPeerIds":[id]}))
        .await;
    assert_eq!(pong["onlineSessionPeerIds"], json!([id]));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn ping_returns_the_online_subset_of_the_first_20_in_order() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    let _b = Client::open(addr, "bob").await;
    let _z = Client::open(addr, "zed").await;
    let _late = Client::open(addr, "late").await;
    let mut ids: Vec<String> = vec!["zed".into(), "nobody".into(), "bob".into()];
    ids.extend((0..17).map(|n| format!("x{n}")));
    ids.push("late".into());
    let reply = a
        .request(json!({"cmd":"session","op":"query","sessionPeerIds":ids}))
        .await;
    assert_eq!(
        reply,
        json!({"cmd":"session","op":"query-result","i":reply["i"],"onlineSessionPeerIds":["zed","bob"],"peerId":"alice"})
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn session_close_replies_and_keeps_the_socket() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    let mut b = Client::open(addr, "bob").await;
    let closed = a.request(json!({"cmd":"session","op":"close"})).await;
    assert_eq!(
        closed,
        json!({"cmd":"session","op":"closed","i":closed["i"],"peerId":"alice"})
    );
    let pong = b
        .request(json!({"cmd":"session","op":"query","sessionPeerIds":["alice"]}))
        .await;
    assert_eq!(pong["onlineSessionPeerIds"], json!([]));
    // Still connected, but without a session.
    let err = a
        .request(json!({"cmd":"conv","op":"query","where":{}}))
        .await;
    assert_eq!(err["cmd"], "error");
    assert_eq!(err["code"], 4105);
    // Closing again closes nothing, and says so.
    let again = a.request(json!({"cmd":"session","op":"close"})).await;
    assert_eq!(again, json!({"cmd":"session","op":"closed","i":again["i"]}));
    a.send_text("{}").await;
    assert_eq!(a.recv().await, json!({}));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn every_device_of_a_client_is_online_until_the_last_leaves() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut watcher = Client::open(addr, "w").await;
    let d1 = Client::open(addr, "alice").await;
    let d2 = Client::open(addr, "alice").await;
    let ping = json!({"cmd":"session","op":"query","sessionPeerIds":["alice"]});
    d1.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let r = watcher.request(ping.clone()).await;
    assert_eq!(r["onlineSessionPeerIds"], json!(["alice"]));
    d2.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let r = watcher.request(ping).await;
    assert_eq!(r["onlineSessionPeerIds"], json!([]));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_login_under_the_same_tag_on_another_device_displaces_the_first() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut phone = Client::open_tagged(addr, "alice", Some(("mobile", "phone"))).await;
    // Another tag, or the same device again, displaces nobody.
    let _web = Client::open_tagged(addr, "alice", Some(("web", "laptop"))).await;
    let _same = Client::open_tagged(addr, "alice", Some(("mobile", "phone"))).await;
    let _tablet = Client::open_tagged(addr, "alice", Some(("mobile", "tablet"))).await;
    assert_eq!(
        phone.recv().await,
        json!({"cmd":"session","op":"closed","code":4111,"reason":"SESSION_CONFLICT","peerId":"alice"})
    );
    assert_eq!(phone.closed().await, Some(4111));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn sessions_per_client_are_limited() {
    let mut cfg = config();
    cfg.limits.sessions_per_client = 1;
    let server = start(cfg).await;
    let addr = server.local_addr();
    let _first = Client::open(addr, "alice").await;
    let mut second = Client::connect(addr).await;
    second
        .send(json!({"cmd":"session","op":"open","appId":APP,"peerId":"alice","i":1}))
        .await;
    assert_eq!(
        second.recv().await,
        json!({"cmd":"session","op":"closed","code":4112,"reason":"TOO_MANY_REQUESTS"})
    );
    assert_eq!(second.closed().await, Some(4112));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn quiet_peers_are_pinged_and_unresponsive_ones_closed_with_4107() {
    let mut cfg = config();
    cfg.limits.ping_interval = std::time::Duration::from_millis(200);
    let server = start(cfg).await;
    let addr = server.local_addr();
    let mut live = Client::open(addr, "alice").await;
    let mut dead = Client::open(addr, "bob").await;
    // Polling answers the pings, so the live client stays connected.
    assert_eq!(
        live.next_event(std::time::Duration::from_millis(1000))
            .await,
        None
    );
    assert_eq!(dead.closed().await, Some(4107));
    live.send_text("{}").await;
    assert_eq!(live.recv().await, json!({}));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused_with_503() {
    let server = start(Config {
        max_connections: 1,
        ..config()
    })
    .await;
    let addr = server.local_addr();
    let _first = Client::open(addr, "alice").await;
    let (head, body) = http(addr, "GET /v1/route?appId=a HTTP/1.1\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert_eq!(body, r#"{"code":4116,"error":"SERVER_BUSY"}"#);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_client_close_is_answered_with_a_close_frame() {
    let server = start_default().await;
    let c = Client::open(server.local_addr(), "alice").await;
    assert_eq!(c.close_cleanly().await, Some(1000));
    let c = Client::connect(server.local_addr()).await;
    assert_eq!(c.close_cleanly().await, Some(1000));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn one_session_per_socket() {
    let server = start_default().await;
    let mut c = Client::open(server.local_addr(), "alice").await;
    let again = c
        .request(json!({"cmd":"session","op":"open","appId":APP,"peerId":"alice"}))
        .await;
    assert_eq!(
        again,
        json!({"cmd":"session","op":"opened","i":again["i"],"peerId":"alice"})
    );
    let other = c
        .request(json!({"cmd":"session","op":"open","appId":APP,"peerId":"bob"}))
        .await;
    assert_eq!(other["cmd"], "error");
    assert_eq!(other["code"], 4103);
    assert_eq!(other["peerId"], "alice");
    server.shutdown().await.expect("shutdown");
}
