//! §6.10 signatures, the gaps left by `signatures.rs` (issue 6): the replay window on
//! both sides of the clock and as configured, the window for conversation signatures,
//! nonce reuse by a different, correctly signed request, nonce reuse after many other
//! requests, and signatures for one action refused for another in each direction.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use leanrt_protocol::signature::{sign, signed_string, Action};
use serde_json::{json, Value};

const KEY: &str = "master";

fn nonce() -> String {
    format!("w{}", rand::random::<u64>())
}

/// `n`, `t`, `s` for `action` by `client` at `t` with nonce `n`.
fn signed_n(client: &str, action: Action<'_>, t: i64, n: &str) -> Value {
    let s = sign(KEY, &signed_string(APP, client, action, &t.to_string(), n));
    json!({"n": n, "t": t, "s": s})
}

fn signed(client: &str, action: Action<'_>, t: i64) -> Value {
    signed_n(client, action, t, &nonce())
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

/// Opens a session with `sig`; the reply frame (opened, or session closed 4102).
async fn try_open(addr: SocketAddr, peer: &str, sig: &Value) -> (Client, Value) {
    let mut c = Client::connect(addr).await;
    let mut frame = with(open_frame(peer), sig);
    frame["i"] = json!(1);
    c.send(frame).await;
    let r = c.recv().await;
    c.peer = peer.into();
    (c, r)
}

async fn accepted(addr: SocketAddr, peer: &str, sig: &Value) -> Client {
    let (c, r) = try_open(addr, peer, sig).await;
    assert_eq!(r["op"], "opened", "{peer} with {sig}: {r}");
    c
}

async fn refused(addr: SocketAddr, peer: &str, sig: &Value) {
    let (mut c, r) = try_open(addr, peer, sig).await;
    assert_eq!(
        r,
        json!({"cmd":"session","op":"closed","code":4102,"reason":"SIGNATURE_FAILED"}),
        "{peer} with {sig}"
    );
    assert_eq!(c.closed().await, Some(4102));
}

fn conv_refused(r: &Value) {
    assert_eq!(
        (r["cmd"].as_str(), r["code"].as_u64()),
        (Some("error"), Some(4302)),
        "{r}"
    );
}

#[tokio::test]
async fn the_window_applies_on_both_sides_of_the_clock() {
    let server = start(signed_config(KEY)).await;
    let addr = server.local_addr();
    // Default window: 3600 s.
    accepted(addr, "p1", &signed("p1", Action::Open, now_secs() - 3500)).await;
    accepted(addr, "p2", &signed("p2", Action::Open, now_secs() + 3500)).await;
    refused(addr, "p3", &signed("p3", Action::Open, now_secs() + 7200)).await;
    refused(addr, "p4", &signed("p4", Action::Open, now_secs() - 3700)).await;
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_window_follows_its_setting() {
    let mut cfg = signed_config(KEY);
    cfg.limits.signature_window = Duration::from_secs(10);
    let server = start(cfg).await;
    let addr = server.local_addr();
    accepted(addr, "q1", &signed("q1", Action::Open, now_secs() - 2)).await;
    refused(addr, "q2", &signed("q2", Action::Open, now_secs() - 60)).await;
    refused(addr, "q3", &signed("q3", Action::Open, now_secs() + 60)).await;
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn conversation_signatures_have_the_window_too() {
    let server = start(signed_config(KEY)).await;
    let addr = server.local_addr();
    let mut a = accepted(addr, "alice", &signed("alice", Action::Open, now_secs())).await;
    let members = vec!["bob".to_owned()];
    let start = json!({"cmd":"conv","op":"start","m":["bob"],"attr":{"name":"W"}});
    let old = signed(
        "alice",
        Action::Start { members: &members },
        now_secs() - 7200,
    );
    conv_refused(&a.request(with(start.clone(), &old)).await);
    let fresh = signed("alice", Action::Start { members: &members }, now_secs());
    let r = a.request(with(start, &fresh)).await;
    assert_eq!(r["op"], "started", "{r}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_nonce_is_single_use_even_in_a_different_signed_request() {
    let server = start(signed_config(KEY)).await;
    let addr = server.local_addr();
    let n = nonce();
    accepted(addr, "n1", &signed_n("n1", Action::Open, now_secs(), &n)).await;
    // Correctly signed, but for another client and another second: the nonce is spent.
    refused(
        addr,
        "n2",
        &signed_n("n2", Action::Open, now_secs() - 1, &n),
    )
    .await;
    // Nor may a conversation operation reuse a login's nonce.
    let mut a = accepted(addr, "n3", &signed("n3", Action::Open, now_secs())).await;
    let members: Vec<String> = vec![];
    let r = a
        .request(with(
            json!({"cmd":"conv","op":"start","m":[]}),
            &signed_n("n3", Action::Start { members: &members }, now_secs(), &n),
        ))
        .await;
    conv_refused(&r);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_replayed_invite_is_refused() {
    let server = start(signed_config(KEY)).await;
    let addr = server.local_addr();
    let mut a = accepted(addr, "alice", &signed("alice", Action::Open, now_secs())).await;
    let none: Vec<String> = vec![];
    let r = a
        .request(with(
            json!({"cmd":"conv","op":"start","m":[]}),
            &signed("alice", Action::Start { members: &none }, now_secs()),
        ))
        .await;
    let cid = r["cid"].as_str().expect("cid").to_owned();
    let m = vec!["bob".to_owned()];
    let invite = with(
        json!({"cmd":"conv","op":"add","cid":cid,"m":["bob"]}),
        &signed(
            "alice",
            Action::Invite {
                cid: &cid,
                members: &m,
            },
            now_secs(),
        ),
    );
    let r = a.request_among_pushes(invite.clone()).await;
    assert_eq!(r["op"], "added", "{r}");
    conv_refused(&a.request_among_pushes(invite).await);
    server.shutdown().await.expect("shutdown");
}

/// The nonce cache is bounded (`Limits::nonce_cache`); a nonce must still be refused
/// within the window after more than that many other signed requests.
#[tokio::test]
async fn a_nonce_is_refused_within_the_window_after_the_cache_filled() {
    let mut cfg = signed_config(KEY);
    cfg.limits.nonce_cache = 4;
    let server = start(cfg).await;
    let addr = server.local_addr();
    let first = signed("r0", Action::Open, now_secs());
    drop(accepted(addr, "r0", &first).await);
    for k in 1..=8 {
        let peer = format!("r{k}");
        drop(accepted(addr, &peer, &signed(&peer, Action::Open, now_secs())).await);
    }
    refused(addr, "r0", &first).await;
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_signature_for_one_action_is_refused_for_another() {
    let server = start(signed_config(KEY)).await;
    let addr = server.local_addr();
    let m = vec!["bob".to_owned()];
    // A start signature does not open a session. (With no members it could not be told
    // apart: `conv start` with `m: []` signs `appId:clientId::t:n`, the very string of
    // `session open`, by the protocol's definition in §6.10; a nonce is still single-use.)
    refused(
        addr,
        "eve",
        &signed("eve", Action::Start { members: &m }, now_secs()),
    )
    .await;
    let mut a = accepted(addr, "alice", &signed("alice", Action::Open, now_secs())).await;
    let r = a
        .request(with(
            json!({"cmd":"conv","op":"start","m":["bob"]}),
            &signed("alice", Action::Start { members: &m }, now_secs()),
        ))
        .await;
    let cid = r["cid"].as_str().expect("cid").to_owned();
    // A kick signature does not invite, an invite signature does not kick, an open
    // signature does neither.
    let carol = vec!["carol".to_owned()];
    let add = json!({"cmd":"conv","op":"add","cid":cid,"m":["carol"]});
    let kick_sig = signed(
        "alice",
        Action::Kick {
            cid: &cid,
            members: &carol,
        },
        now_secs(),
    );
    conv_refused(&a.request_among_pushes(with(add.clone(), &kick_sig)).await);
    conv_refused(
        &a.request_among_pushes(with(add, &signed("alice", Action::Open, now_secs())))
            .await,
    );
    let remove = json!({"cmd":"conv","op":"remove","cid":cid,"m":["bob"]});
    let invite_sig = signed(
        "alice",
        Action::Invite {
            cid: &cid,
            members: &m,
        },
        now_secs(),
    );
    conv_refused(&a.request_among_pushes(with(remove, &invite_sig)).await);
    server.shutdown().await.expect("shutdown");
}
