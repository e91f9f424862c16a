//! Ordering and exactly-once delivery under concurrent senders:
//! - every session receives a conversation's messages in the order `logs` returns
//!   them, with no gap and no duplicate, however many senders write at once;
//! - across a reconnect in the middle of a burst, each login gets every message
//!   pending for it exactly once, in that order;
//! - across `kill -9` and a restart, nothing acked to a sender is lost and the
//!   login after the restart pushes each owed message once, in order.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::*;
use futures_util::future::join_all;
use serde_json::{json, Value};

const SENDERS: usize = 4;
const EACH: usize = 150;

fn ids_of(logs: &[Value]) -> Vec<String> {
    logs.iter()
        .map(|l| l["msgId"].as_str().expect("msgId").to_owned())
        .collect()
}

/// What a sender ended with: its session, the ids acked to it, and the messages it
/// received meanwhile (acked as they came).
type Pumped = (Client, Vec<String>, Vec<String>);

/// Sends `n` messages pipelined (32 unacked at most), then keeps receiving until
/// quiet.
async fn pump(mut c: Client, cid: String, n: usize) -> Pumped {
    let mut acked = Vec::new();
    let mut received = Vec::new();
    let mut sent = 0;
    while acked.len() < n {
        while sent < n && sent - acked.len() < 32 {
            let frame =
                json!({"cmd":"direct","cid":cid,"msg":format!("{}-{sent}", c.peer),"i":sent + 1});
            c.send(frame).await;
            sent += 1;
        }
        match c.next_event(Duration::from_secs(10)).await {
            Some(Event::Frame(f)) if f["cmd"] == "ack" => {
                assert!(f.get("code").is_none(), "refused: {f}");
                acked.push(f["uid"].as_str().expect("uid").to_owned());
            }
            Some(Event::Frame(f)) if f["cmd"] == "direct" => {
                c.send(json!({"cmd":"ack","cid":f["cid"],"mid":f["id"]}))
                    .await;
                received.push(f["id"].as_str().expect("id").to_owned());
            }
            Some(Event::Frame(_)) => {}
            other => panic!("{} stopped: {other:?}", c.peer),
        }
    }
    received.extend(receive(&mut c, Duration::from_secs(1)).await);
    (c, acked, received)
}

/// Receives `direct`s (acking each) until `quiet` passes without one.
async fn receive(c: &mut Client, quiet: Duration) -> Vec<String> {
    let mut got = Vec::new();
    while let Some(Event::Frame(f)) = c.next_event(quiet).await {
        if f["cmd"] != "direct" {
            continue;
        }
        c.send(json!({"cmd":"ack","cid":f["cid"],"mid":f["id"]}))
            .await;
        got.push(f["id"].as_str().expect("id").to_owned());
    }
    got
}

/// `got` is `history` without `skipped`, in the same order: no gap, no duplicate.
fn assert_follows(who: &str, got: &[String], history: &[String], skipped: &HashSet<String>) {
    let expected: Vec<&String> = history.iter().filter(|id| !skipped.contains(*id)).collect();
    let got: Vec<&String> = got.iter().collect();
    assert_eq!(got.len(), expected.len(), "{who}: count");
    assert!(got == expected, "{who}: not in history order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_reach_every_session_in_history_order() {
    let server = start_default().await;
    let addr = server.local_addr();
    let names: Vec<String> = (0..SENDERS).map(|k| format!("s{k}")).collect();
    let mut owner = Client::open(addr, "owner").await;
    let mut members: Vec<&str> = names.iter().map(String::as_str).collect();
    members.extend(["r0", "r1"]);
    let cid = owner.start(&members).await;
    // Two receivers, one of them on two devices.
    let mut receivers = Vec::new();
    for name in ["r0", "r1", "r1"] {
        receivers.push(Client::open(addr, name).await);
    }
    let mut senders = Vec::new();
    for name in &names {
        senders.push(Client::open(addr, name).await);
    }
    let pumps = senders
        .into_iter()
        .map(|c| tokio::spawn(pump(c, cid.clone(), EACH)));
    let listens = receivers.into_iter().map(|mut c| {
        tokio::spawn(async move {
            let got = receive(&mut c, Duration::from_secs(2)).await;
            (c, got)
        })
    });
    let listens: Vec<_> = listens.collect();
    let pumped = join_all(pumps).await;
    let listened = join_all(listens).await;
    let history = ids_of(&all_logs(&mut owner, &cid).await);
    assert_eq!(history.len(), SENDERS * EACH);
    let none = HashSet::new();
    for r in listened {
        let (c, got) = r.expect("receiver");
        assert_follows(&c.peer, &got, &history, &none);
    }
    // A sender's session gets everyone else's messages, in the same order.
    for p in pumped {
        let (c, own, received) = p.expect("sender");
        let own: HashSet<String> = own.into_iter().collect();
        assert_follows(&c.peer, &received, &history, &own);
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_login_during_a_burst_gets_what_is_owed_once_in_order() {
    let server = start_default().await;
    let addr = server.local_addr();
    let names: Vec<String> = (0..3).map(|k| format!("w{k}")).collect();
    let mut owner = Client::open(addr, "owner").await;
    let mut members: Vec<&str> = names.iter().map(String::as_str).collect();
    members.push("bob");
    let cid = owner.start(&members).await;
    let mut senders = Vec::new();
    for name in &names {
        senders.push(Client::open(addr, name).await);
    }
    let pumps: Vec<_> = senders
        .into_iter()
        .map(|c| tokio::spawn(pump(c, cid.clone(), 200)))
        .collect();
    let mut sessions: Vec<Vec<String>> = Vec::new();
    let mut k = 0u64;
    while !pumps.iter().all(|p| p.is_finished()) {
        k += 1;
        let mut b = Client::open(addr, "bob").await;
        let stay = Duration::from_millis(3 + (k % 5) * 4);
        let until = tokio::time::Instant::now() + stay;
        let mut got = Vec::new();
        while let Some(Event::Frame(f)) = b
            .next_event(until.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            assert_eq!(f["cmd"], "direct", "{f}");
            b.send(json!({"cmd":"ack","cid":f["cid"],"mid":f["id"]}))
                .await;
            got.push(f["id"].as_str().expect("id").to_owned());
        }
        b.close().await;
        sessions.push(got);
    }
    join_all(pumps).await;
    // The last login drains what is left.
    let mut b = Client::open(addr, "bob").await;
    sessions.push(receive(&mut b, Duration::from_millis(500)).await);
    let history = ids_of(&all_logs(&mut owner, &cid).await);
    let position: HashMap<&str, usize> = history
        .iter()
        .enumerate()
        .map(|(n, id)| (id.as_str(), n))
        .collect();
    let mut union = HashSet::new();
    for (n, got) in sessions.iter().enumerate() {
        let order: Vec<usize> = got.iter().map(|id| position[id.as_str()]).collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "login {n}: out of order or twice: {order:?}"
        );
        union.extend(got.iter().cloned());
    }
    assert!(
        sessions.len() >= 4,
        "only {} logins during the burst",
        sessions.len()
    );
    assert_eq!(union.len(), history.len(), "some messages never arrived");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_burst_loses_nothing_acked_and_pushes_the_rest_once() {
    let dir = temp_dir("order-kill");
    let db = dir.join("leanrt.db");
    let (child, addr) = spawn_binary(&db);
    let names: Vec<String> = (0..SENDERS).map(|k| format!("k{k}")).collect();
    let mut owner = Client::open(addr, "owner").await;
    let mut members: Vec<&str> = names.iter().map(String::as_str).collect();
    members.push("bob");
    let cid = owner.start(&members).await;
    let mut bob = Client::open(addr, "bob").await;
    let mut senders = Vec::new();
    for name in &names {
        senders.push(Client::open(addr, name).await);
    }
    let pumps = senders
        .into_iter()
        .map(|c| tokio::spawn(pump(c, cid.clone(), 100)));
    let acked: Vec<String> = join_all(pumps)
        .await
        .into_iter()
        .flat_map(|p| p.expect("sender").1)
        .collect();
    // Bob takes part of the burst live, then the server dies.
    let mut before = Vec::new();
    while before.len() < 150 {
        let Some(Event::Frame(f)) = bob.next_event(Duration::from_secs(5)).await else {
            panic!("bob got only {}", before.len());
        };
        bob.send(json!({"cmd":"ack","cid":f["cid"],"mid":f["id"]}))
            .await;
        before.push(f["id"].as_str().expect("id").to_owned());
    }
    drop(child); // SIGKILL
    drop(bob);

    let (child, addr) = spawn_binary(&db);
    let mut owner = Client::open(addr, "owner").await;
    let history = ids_of(&all_logs(&mut owner, &cid).await);
    let stored: HashSet<&String> = history.iter().collect();
    assert!(
        acked.iter().all(|id| stored.contains(id)),
        "an acked message was lost"
    );
    let mut bob = Client::open(addr, "bob").await;
    let after = receive(&mut bob, Duration::from_millis(800)).await;
    // After the restart: in history order, once; with what came before, everything.
    let position: HashMap<&str, usize> = history
        .iter()
        .enumerate()
        .map(|(n, id)| (id.as_str(), n))
        .collect();
    let order: Vec<usize> = after.iter().map(|id| position[id.as_str()]).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    let union: HashSet<&String> = before.iter().chain(&after).collect();
    assert_eq!(union.len(), history.len());
    // Only what bob received before the kill may come again (its ack may have died
    // with the server); what it never got comes exactly once.
    bob.close().await;
    let mut bob = Client::open(addr, "bob").await;
    assert!(receive(&mut bob, Duration::from_millis(300))
        .await
        .is_empty());
    drop(child);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_larger_than_the_unacked_window_loses_no_ack() {
    let mut config = config();
    config.limits.frames_per_second = 0;
    config.limits.offline_per_conversation = 10_000;
    let server = start(config).await;
    let addr = server.local_addr();
    let a = Client::open(addr, "alice").await;
    let mut owner = Client::open(addr, "owner").await;
    let cid = owner.start(&["alice", "bob"]).await;
    // More than the 4096 messages a session remembers unacked.
    let (_a, sent, _) = pump(a, cid.clone(), 6000).await;
    let mut b = Client::open(addr, "bob").await;
    let got = receive(&mut b, Duration::from_secs(1)).await;
    let first_difference = got.iter().zip(&sent).position(|(g, s)| g != s);
    assert_eq!(
        (got.len(), first_difference),
        (sent.len(), None),
        "the whole push, in order"
    );
    b.close().await;
    // Every ack counted: nothing comes again.
    let mut b = Client::open(addr, "bob").await;
    assert!(receive(&mut b, Duration::from_millis(500)).await.is_empty());
    server.shutdown().await.expect("shutdown");
}
