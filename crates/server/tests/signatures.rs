//! §6.10 signatures for apps started with a master key.

mod common;

use std::net::SocketAddr;

use common::*;
use leanrt_protocol::signature::{sign, signed_string, Action};
use serde_json::{json, Value};

const KEY: &str = "master";

fn nonce() -> String {
    format!("n{}", rand::random::<u64>())
}

/// `n`, `t`, `s` for `action` by `client`, at `t`.
fn signed(client: &str, action: Action<'_>, t: i64) -> Value {
    let n = nonce();
    let s = sign(KEY, &signed_string(APP, client, action, &t.to_string(), &n));
    json!({"n": n, "t": t, "s": s})
}

fn with(mut frame: Value, sig: &Value) -> Value {
    for (k, v) in sig.as_object().expect("object") {
        frame[k] = v.clone();
    }
    frame
}

fn open_frame(peer: &str) -> Value {
    json!({"cmd":"session","op":"open","appId":APP,"ua":"js/2.4.0","peerId":peer})
}

async fn login(addr: SocketAddr, peer: &str) -> Client {
    let mut c = Client::connect(addr).await;
    let r = c
        .request(with(
            open_frame(peer),
            &signed(peer, Action::Open, now_secs()),
        ))
        .await;
    assert_eq!(r["op"], "opened", "{r}");
    c.peer = peer.into();
    c
}

async fn refused(addr: SocketAddr, frame: Value) {
    let mut c = Client::connect(addr).await;
    c.send(frame).await;
    assert_eq!(
        c.recv().await,
        json!({"cmd":"session","op":"closed","code":4102,"reason":"SIGNATURE_FAILED"})
    );
    assert_eq!(c.closed().await, Some(4102));
}

#[tokio::test]
async fn login_signatures() {
    let server = start(signed_config(KEY)).await;
    let addr = server.local_addr();
    let _alice = login(addr, "alice").await;
    // Missing, wrong, expired, for another client, reused.
    refused(addr, with(open_frame("bob"), &json!({"i": 1}))).await;
    let mut bad = signed("bob", Action::Open, now_secs());
    bad["s"] = json!("00".repeat(20));
    refused(addr, with(open_frame("bob"), &bad)).await;
    refused(
        addr,
        with(
            open_frame("bob"),
            &signed("bob", Action::Open, now_secs() - 7200),
        ),
    )
    .await;
    refused(
        addr,
        with(
            open_frame("bob"),
            &signed("carol", Action::Open, now_secs()),
        ),
    )
    .await;
    let once = signed("dave", Action::Open, now_secs());
    let mut c = Client::connect(addr).await;
    let r = c.request(with(open_frame("dave"), &once)).await;
    assert_eq!(r["op"], "opened");
    refused(addr, with(open_frame("dave"), &once)).await;
    // An anonymous client signs an empty clientId.
    let mut anon = Client::connect(addr).await;
    let frame = json!({"cmd":"session","op":"open","appId":APP,"ua":"js/2.4.0"});
    let r = anon
        .request(with(frame, &signed("", Action::Open, now_secs())))
        .await;
    assert_eq!(r["op"], "opened", "{r}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn apps_without_a_master_key_accept_unsigned() {
    let mut cfg = signed_config(KEY);
    cfg.apps.push(App {
        id: "open".into(),
        master_key: None,
    });
    let server = start(cfg).await;
    let mut c = Client::connect(server.local_addr()).await;
    let r = c
        .request(json!({"cmd":"session","op":"open","appId":"open","peerId":"alice"}))
        .await;
    assert_eq!(r["op"], "opened");
    c.peer = "alice".into();
    let cid = c.start(&["bob"]).await;
    let r = c
        .request(json!({"cmd":"conv","op":"add","cid":cid,"m":["carol"]}))
        .await;
    assert_eq!(r["op"], "added");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn conversation_signatures() {
    let server = start(signed_config(KEY)).await;
    let addr = server.local_addr();
    let mut a = login(addr, "alice").await;
    let fail = |r: &Value| {
        assert_eq!(
            (r["cmd"].clone(), r["code"].clone(), r["reason"].clone()),
            (
                json!("error"),
                json!(4302),
                json!("CONVERSATION_SIGNATURE_FAILED")
            ),
            "{r}"
        )
    };
    let start = json!({"cmd":"conv","op":"start","m":["bob"],"attr":{"name":"S"}});
    fail(&a.request(start.clone()).await);
    let members = vec!["bob".to_owned()];
    let sig = signed("alice", Action::Start { members: &members }, now_secs());
    let r = a.request(with(start.clone(), &sig)).await;
    assert_eq!(r["op"], "started", "{r}");
    let cid = r["cid"].as_str().expect("cid").to_owned();
    // The same signature twice is a replay.
    fail(&a.request(with(start, &sig)).await);

    let add = json!({"cmd":"conv","op":"add","cid":cid,"m":["carol","dave"]});
    fail(&a.request(add.clone()).await);
    let m = vec!["carol".to_owned(), "dave".to_owned()];
    let r = a
        .request(with(
            add,
            &signed(
                "alice",
                Action::Invite {
                    cid: &cid,
                    members: &m,
                },
                now_secs(),
            ),
        ))
        .await;
    assert_eq!(r["op"], "added", "{r}");
    while a
        .next_event(std::time::Duration::from_millis(100))
        .await
        .is_some()
    {}

    let kick = json!({"cmd":"conv","op":"remove","cid":cid,"m":["carol"]});
    fail(&a.request(kick.clone()).await);
    // An open signature used for a kick fails.
    fail(
        &a.request(with(
            kick.clone(),
            &signed("alice", Action::Open, now_secs()),
        ))
        .await,
    );
    let m = vec!["carol".to_owned()];
    let r = a
        .request(with(
            kick,
            &signed(
                "alice",
                Action::Kick {
                    cid: &cid,
                    members: &m,
                },
                now_secs(),
            ),
        ))
        .await;
    assert_eq!(r["op"], "removed", "{r}");
    while a
        .next_event(std::time::Duration::from_millis(100))
        .await
        .is_some()
    {}

    // Leaving (exactly oneself) needs no signature.
    let mut dave = login(addr, "dave").await;
    let r = dave
        .request(json!({"cmd":"conv","op":"remove","cid":cid,"m":["dave"]}))
        .await;
    assert_eq!(r["op"], "removed", "{r}");
    server.shutdown().await.expect("shutdown");
}
