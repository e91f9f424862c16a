//! direct, recipient acks, receipts, offline delivery, transient messages and logs.

mod common;

use common::*;
use serde_json::{json, Value};

fn ack_of(cid: &str, frame: &Value) -> Value {
    json!({"cmd":"ack","cid":cid,"mid":frame["id"]})
}

#[tokio::test]
async fn direct_is_acked_then_delivered_to_every_other_session() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a1 = Client::open(addr, "alice").await;
    let mut a2 = Client::open(addr, "alice").await;
    let mut b = Client::open(addr, "bob").await;
    let mut outsider = Client::open(addr, "zed").await;
    let cid = a1.start(&["bob"]).await;
    assert_eq!(b.recv().await["op"], "joined");
    let ack = a1
        .request(json!({"cmd":"direct","cid":cid,"msg":"hello","r":false,"transient":false}))
        .await;
    let uid = ack["uid"].as_str().expect("uid").to_owned();
    assert_eq!(uid.len(), 22);
    let t = ack["t"].as_i64().expect("t");
    assert_eq!(
        ack,
        json!({"cmd":"ack","i":ack["i"],"uid":uid,"t":t,"peerId":"alice"})
    );
    let direct = |peer: &str| json!({"cmd":"direct","cid":cid,"id":uid,"fromPeerId":"alice","timestamp":t,"msg":"hello","peerId":peer});
    assert_eq!(b.recv().await, direct("bob"));
    assert_eq!(a2.recv().await, direct("alice"));
    a1.silent().await;
    outsider.silent().await;
    // Non-members and unknown conversations get an error ack.
    let err = outsider
        .request(json!({"cmd":"direct","cid":cid,"msg":"x","r":false,"transient":false}))
        .await;
    assert_eq!(
        err,
        json!({"cmd":"ack","i":err["i"],"code":4401,"reason":"INVALID_MESSAGING_TARGET","peerId":"zed"})
    );
    let err = a1
        .request(json!({"cmd":"direct","cid":"nope","msg":"x"}))
        .await;
    assert_eq!(err["code"], 4401);
    // A missing msg is an empty message.
    let ack = a1
        .request(json!({"cmd":"direct","cid":cid,"r":false}))
        .await;
    assert!(ack["uid"].is_string());
    assert_eq!(b.recv().await["msg"], "");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn receipts_go_to_the_sender_once_per_recipient() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    let mut b1 = Client::open(addr, "bob").await;
    let mut b2 = Client::open(addr, "bob").await;
    let mut c = Client::open(addr, "carol").await;
    let cid = a.start(&["bob", "carol"]).await;
    for x in [&mut b1, &mut b2, &mut c] {
        assert_eq!(x.recv().await["op"], "joined");
    }
    let ack = a
        .request(json!({"cmd":"direct","cid":cid,"msg":"r?","r":1,"transient":false}))
        .await;
    let uid = ack["uid"].clone();
    let got1 = b1.recv().await;
    let got2 = b2.recv().await;
    let got_c = c.recv().await;
    b1.send(ack_of(&cid, &got1)).await;
    let rcp = a.recv().await;
    assert_eq!(rcp["cmd"], "rcp");
    assert_eq!(rcp["cid"], json!(cid));
    assert_eq!(rcp["id"], uid);
    assert_eq!(rcp["peerId"], "alice");
    assert!(rcp["t"].as_i64().expect("t") >= ack["t"].as_i64().expect("t"));
    // bob's second device acking does not repeat the receipt.
    b2.send(ack_of(&cid, &got2)).await;
    a.silent().await;
    c.send(ack_of(&cid, &got_c)).await;
    assert_eq!(a.recv().await["cmd"], "rcp");
    c.send(ack_of(&cid, &got_c)).await;
    a.silent().await;
    // Without r, no receipt.
    a.say(&cid, "plain").await;
    let got = b1.recv().await;
    b1.send(ack_of(&cid, &got)).await;
    a.silent().await;
    // ackAt is recorded.
    let logs = a.request(json!({"cmd":"logs","cid":cid,"limit":10})).await;
    assert!(logs["logs"][0]["ackAt"].is_i64(), "{logs}");
    server.shutdown().await.expect("shutdown");
}

/// A config with LeanCloud's offline caps (20 per conversation, 50 conversations).
fn leancloud_caps() -> Config {
    let mut config = config();
    config.limits.offline_per_conversation = 20;
    config.limits.offline_conversations = 50;
    config
}

#[tokio::test]
async fn offline_messages_arrive_after_open_oldest_first() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    let cid = a.start(&["bob"]).await;
    let cid2 = a.start(&["bob"]).await;
    let mut sent = Vec::new();
    for n in 0..60 {
        sent.push(a.say(&cid, &format!("m{n}")).await);
    }
    let other = a.say(&cid2, "other").await;
    // Default limits: more than 20 pending messages of one conversation all arrive.
    let mut b = Client::connect(addr).await;
    let opened = b
        .request(json!({"cmd":"session","op":"open","appId":APP,"peerId":"bob"}))
        .await;
    assert_eq!(opened["op"], "opened");
    b.peer = "bob".into();
    let mut got = Vec::new();
    for _ in 0..61 {
        got.push(b.recv().await);
    }
    b.silent().await;
    let texts: Vec<&str> = got
        .iter()
        .map(|f| f["msg"].as_str().expect("msg"))
        .collect();
    let mut expected: Vec<String> = (0..60).map(|n| format!("m{n}")).collect();
    expected.push("other".into());
    assert_eq!(texts, expected);
    assert_eq!(
        &got[0],
        &json!({"cmd":"direct","cid":cid,"id":sent[0]["uid"],"fromPeerId":"alice","timestamp":sent[0]["t"],"msg":"m0","offline":true,"peerId":"bob"})
    );
    assert_eq!(got[60]["id"], other["uid"]);
    // Ack some; the rest come again on the next login.
    for f in &got[..60] {
        b.send(ack_of(f["cid"].as_str().expect("cid"), f)).await;
    }
    b.close().await;
    let mut b = Client::open(addr, "bob").await;
    let again = b.recv().await;
    assert_eq!(again["id"], other["uid"]);
    assert_eq!(again["offline"], true);
    b.send(ack_of(&cid2, &again)).await;
    b.silent().await;
    b.close().await;
    let mut b = Client::open(addr, "bob").await;
    b.silent().await;
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn with_a_cap_of_20_the_oldest_come_first_and_the_rest_at_the_next_login() {
    let server = start(leancloud_caps()).await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    let cid = a.start(&["bob"]).await;
    let cid2 = a.start(&["bob"]).await;
    let mut sent = Vec::new();
    for n in 0..25 {
        sent.push(a.say(&cid, &format!("m{n}")).await);
    }
    let other = a.say(&cid2, "other").await;
    let mut b = Client::open(addr, "bob").await;
    let mut got = Vec::new();
    for _ in 0..21 {
        got.push(b.recv().await);
    }
    b.silent().await;
    // The 20 oldest pending of the first conversation, then the other.
    let texts: Vec<&str> = got
        .iter()
        .map(|f| f["msg"].as_str().expect("msg"))
        .collect();
    let mut expected: Vec<String> = (0..20).map(|n| format!("m{n}")).collect();
    expected.push("other".into());
    assert_eq!(texts, expected);
    assert_eq!(got[0]["id"], sent[0]["uid"]);
    assert!(got.iter().all(|f| f["offline"] == true));
    // Ack the 20 pushed from the first conversation only.
    for f in &got[..20] {
        b.send(ack_of(&cid, f)).await;
    }
    b.close().await;
    // The 5 newer ones were not dropped: they come now, oldest first, with the
    // still unacked "other".
    let mut b = Client::open(addr, "bob").await;
    let mut again = Vec::new();
    for _ in 0..6 {
        again.push(b.recv().await);
    }
    b.silent().await;
    let ids: Vec<&Value> = again.iter().map(|f| &f["id"]).collect();
    let expected: Vec<&Value> = sent[20..]
        .iter()
        .map(|s| &s["uid"])
        .chain([&other["uid"]])
        .collect();
    assert_eq!(ids, expected);
    assert!(again.iter().all(|f| f["offline"] == true));
    for f in &again {
        b.send(ack_of(f["cid"].as_str().expect("cid"), f)).await;
    }
    b.close().await;
    let mut b = Client::open(addr, "bob").await;
    b.silent().await;
    server.shutdown().await.expect("shutdown");
}

/// A sender pumps messages while the recipient logs in and out: each login gets every
/// message pending at login or committed during it exactly once, in commit order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_committed_during_login_are_delivered_exactly_once() {
    use std::collections::{HashMap, HashSet};
    use std::time::Duration;

    const TOTAL: usize = 300;
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    let cid = a.start(&["bob"]).await;
    let sender = tokio::spawn(async move {
        let mut ids = Vec::with_capacity(TOTAL);
        for n in 0..TOTAL {
            let ack = a.say(&cid, &format!("s{n}")).await;
            ids.push(ack["uid"].as_str().expect("uid").to_owned());
            if n % 2 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        a.close().await;
        ids
    });
    let mut sessions: Vec<Vec<String>> = Vec::new();
    let mut logins = 0;
    loop {
        let done = sender.is_finished();
        logins += 1;
        let mut b = Client::open(addr, "bob").await;
        let mut got = Vec::new();
        // Stay for a few ms while messages flow, or drain everything after the burst.
        let stay = if done {
            Duration::from_millis(300)
        } else {
            Duration::from_millis(3 + (logins % 5) * 4)
        };
        let until = tokio::time::Instant::now() + stay;
        loop {
            let wait = if done {
                stay
            } else {
                until.saturating_duration_since(tokio::time::Instant::now())
            };
            let Some(Event::Frame(f)) = b.next_event(wait).await else {
                break;
            };
            assert_eq!(f["cmd"], "direct", "{f}");
            let id = f["id"].as_str().expect("id").to_owned();
            b.send(json!({"cmd":"ack","cid":f["cid"],"mid":id})).await;
            got.push(id);
        }
        b.close().await;
        sessions.push(got);
        if done {
            break;
        }
    }
    let sent = sender.await.expect("sender");
    let position: HashMap<&str, usize> = sent
        .iter()
        .enumerate()
        .map(|(n, id)| (id.as_str(), n))
        .collect();
    let mut union = HashSet::new();
    for (k, got) in sessions.iter().enumerate() {
        let order: Vec<usize> = got
            .iter()
            .map(|id| *position.get(id.as_str()).expect("a sent id"))
            .collect();
        // Offline first, then live: strictly in commit order, so never an id twice.
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "login {k} got ids out of order or twice: {order:?}"
        );
        union.extend(got.iter().cloned());
    }
    assert!(logins >= 4, "only {logins} logins during the burst");
    assert_eq!(union.len(), TOTAL, "some sent messages never arrived");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn transient_messages_are_delivered_but_not_stored_or_acked() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    let mut b = Client::open(addr, "bob").await;
    let cid = a.start(&["bob"]).await;
    assert_eq!(b.recv().await["op"], "joined");
    a.send(json!({"cmd":"direct","cid":cid,"msg":"typing","i":9,"r":1,"transient":true}))
        .await;
    let got = b.recv().await;
    assert_eq!(got["transient"], true);
    assert_eq!(got["msg"], "typing");
    assert_eq!(got["fromPeerId"], "alice");
    a.silent().await;
    let logs = a.request(json!({"cmd":"logs","cid":cid})).await;
    assert_eq!(logs["logs"], json!([]));
    b.close().await;
    a.send(json!({"cmd":"direct","cid":cid,"msg":"gone","transient":true}))
        .await;
    // A round trip makes sure the transient message was handled before bob is back.
    a.request(json!({"cmd":"session","op":"query","sessionPeerIds":["bob"]}))
        .await;
    let mut b = Client::open(addr, "bob").await;
    b.silent().await;
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn transient_conversation_messages_reach_participants_only() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    let mut b = Client::open(addr, "bob").await;
    let mut c = Client::open(addr, "carol").await;
    let started = a
        .request(json!({"cmd":"conv","op":"start","m":[],"transient":true}))
        .await;
    let cid = started["cid"].as_str().expect("cid").to_owned();
    b.request(json!({"cmd":"conv","op":"add","cid":cid,"m":["bob"]}))
        .await;
    // Anyone may send to a transient conversation; no receipts there.
    let ack = c
        .request(json!({"cmd":"direct","cid":cid,"msg":"hi all","r":1}))
        .await;
    assert!(ack["uid"].is_string());
    assert_eq!(a.recv().await["msg"], "hi all");
    let got = b.recv().await;
    assert_eq!(got["msg"], "hi all");
    b.send(ack_of(&cid, &got)).await;
    c.silent().await;
    let logs = c.request(json!({"cmd":"logs","cid":cid})).await;
    assert_eq!(logs["logs"].as_array().map(Vec::len), Some(1));
    assert!(logs["logs"][0].get("ackAt").is_none());
    let r = c
        .request(json!({"cmd":"conv","op":"query","where":{"objectId":cid}}))
        .await;
    assert!(r["results"][0]["lm"]["iso"].is_string());
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn logs_page_by_time_and_id_oldest_first() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    let mut z = Client::open(addr, "zed").await;
    let cid = a.start(&[]).await;
    let mut acks = Vec::new();
    for n in 0..30 {
        acks.push(a.say(&cid, &format!("m{n}")).await);
    }
    let texts = |r: &Value| -> Vec<String> {
        r["logs"]
            .as_array()
            .expect("logs array")
            .iter()
            .map(|l| l["data"].as_str().expect("data").to_owned())
            .collect()
    };
    let names =
        |range: std::ops::Range<usize>| -> Vec<String> { range.map(|n| format!("m{n}")).collect() };
    let page = a.request(json!({"cmd":"logs","cid":cid})).await;
    assert_eq!(texts(&page), names(10..30));
    let item = &page["logs"][0];
    assert_eq!(
        item,
        &json!({"from":"alice","data":"m10","timestamp":acks[10]["t"],"msgId":acks[10]["uid"]})
    );
    // Next page: strictly before (t, mid) of the oldest item.
    let page2 = a
        .request(
            json!({"cmd":"logs","cid":cid,"t":item["timestamp"],"mid":item["msgId"],"limit":5}),
        )
        .await;
    assert_eq!(texts(&page2), names(5..10));
    // mid alone bounds by its own message; `l` is an alias of limit.
    let page3 = a
        .request(json!({"cmd":"logs","cid":cid,"mid":acks[3]["uid"],"l":2}))
        .await;
    assert_eq!(texts(&page3), names(1..3));
    // After-bound.
    let after = a
        .request(
            json!({"cmd":"logs","cid":cid,"tt":acks[26]["t"],"tmid":acks[26]["uid"],"limit":100}),
        )
        .await;
    assert_eq!(texts(&after), names(27..30));
    let big = a
        .request(json!({"cmd":"logs","cid":cid,"limit":5000}))
        .await;
    assert_eq!(texts(&big), names(0..30));
    let zero = a.request(json!({"cmd":"logs","cid":cid,"limit":0})).await;
    assert_eq!(zero["logs"], json!([]));
    let err = z.request(json!({"cmd":"logs","cid":cid})).await;
    assert_eq!(
        err,
        json!({"cmd":"error","i":err["i"],"code":4312,"reason":"CONVERSATION_LOG_REJECTED","peerId":"zed"})
    );
    let err = a
        .request(json!({"cmd":"logs","cid":"000000000000000000000000"}))
        .await;
    assert_eq!(err["code"], 4303);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn many_concurrent_senders_are_all_acked_and_logged() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut owner = Client::open(addr, "owner").await;
    let senders: Vec<String> = (0..8).map(|n| format!("s{n}")).collect();
    let refs: Vec<&str> = senders.iter().map(String::as_str).collect();
    let cid = owner.start(&refs).await;
    let mut tasks = Vec::new();
    for s in senders {
        let cid = cid.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Client::open(addr, &s).await;
            for n in 0..25 {
                let ack = c
                    .request_among_pushes(
                        json!({"cmd":"direct","cid":cid,"msg":format!("{s}-{n}")}),
                    )
                    .await;
                assert!(ack["uid"].is_string(), "{ack}");
            }
        }));
    }
    for t in tasks {
        t.await.expect("sender");
    }
    let logs = owner
        .request_among_pushes(json!({"cmd":"logs","cid":cid,"limit":1000}))
        .await;
    let items = logs["logs"].as_array().expect("logs");
    assert_eq!(items.len(), 200);
    let stamps: Vec<i64> = items
        .iter()
        .map(|l| l["timestamp"].as_i64().expect("ts"))
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn offline_delivery_covers_at_most_50_conversations_per_login() {
    let server = start(leancloud_caps()).await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    for n in 0..51 {
        let cid = a.start(&["bob"]).await;
        a.say(&cid, &format!("c{n}")).await;
    }
    let mut b = Client::open(addr, "bob").await;
    let mut first = Vec::new();
    for _ in 0..50 {
        first.push(b.recv().await);
    }
    b.silent().await;
    // The 50 conversations with the newest messages, oldest first.
    let texts: Vec<String> = first
        .iter()
        .map(|f| f["msg"].as_str().expect("msg").to_owned())
        .collect();
    let expected: Vec<String> = (1..51).map(|n| format!("c{n}")).collect();
    assert_eq!(texts, expected);
    for f in &first {
        b.send(ack_of(f["cid"].as_str().expect("cid"), f)).await;
    }
    b.close().await;
    let mut b = Client::open(addr, "bob").await;
    assert_eq!(b.recv().await["msg"], "c0");
    b.silent().await;
    server.shutdown().await.expect("shutdown");
}
