//! conv start/add/remove/count/update and the §6.4 notification tables.

mod common;

use common::*;
use serde_json::{json, Value};

fn op(frame: &Value) -> (&str, &str) {
    (
        frame["cmd"].as_str().unwrap_or_default(),
        frame["op"].as_str().unwrap_or_default(),
    )
}

async fn members_of(c: &mut Client, cid: &str) -> Value {
    let r = c
        .request(json!({"cmd":"conv","op":"query","where":{"objectId":cid},"sort":"-lm","limit":10,"skip":0}))
        .await;
    r["results"][0]["m"].clone()
}

#[tokio::test]
async fn start_puts_the_creator_first_and_notifies_invitees_only() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    let mut b = Client::open(addr, "bob").await;
    let started = a
        .request(json!({"cmd":"conv","op":"start","m":["bob","alice","bob","carol"],"attr":{"name":"R","attr":{"x":1},"topic":"t"},"unique":false,"transient":false}))
        .await;
    assert_eq!(op(&started), ("conv", "started"));
    assert_eq!(started["peerId"], "alice");
    let cid = started["cid"].as_str().expect("cid").to_owned();
    assert_eq!(cid.len(), 24);
    assert!(cid
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert!(started["cdate"].as_str().expect("cdate").ends_with('Z'));
    assert_eq!(
        b.recv().await,
        json!({"cmd":"conv","op":"joined","cid":cid,"initBy":"alice","peerId":"bob"})
    );
    b.silent().await;
    a.silent().await;
    let r = a
        .request(json!({"cmd":"conv","op":"query","where":{"objectId":cid}}))
        .await;
    let conv = &r["results"][0];
    assert_eq!(conv["m"], json!(["alice", "bob", "carol"]));
    assert_eq!(conv["c"], "alice");
    assert_eq!(conv["name"], "R");
    assert_eq!(conv["attr"], json!({"x": 1}));
    assert_eq!(conv["topic"], "t");
    assert_eq!(conv["createdAt"], started["cdate"]);
    assert!(conv.get("lm").is_none() && conv.get("tr").is_none() && conv.get("unique").is_none());
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn unique_start_returns_the_same_conversation_for_the_same_member_set() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    let mut b = Client::open(addr, "bob").await;
    let start = json!({"cmd":"conv","op":"start","m":["bob"],"attr":{"name":"U"},"unique":true,"transient":false});
    let first = a.request(start.clone()).await;
    assert_eq!(b.recv().await["op"], "joined");
    let second = a.request(start).await;
    assert_eq!(first["cid"], second["cid"]);
    assert_eq!(first["cdate"], second["cdate"]);
    b.silent().await;
    // bob starting with alice is the same member set.
    let third = b
        .request(json!({"cmd":"conv","op":"start","m":["alice"],"unique":true}))
        .await;
    assert_eq!(third["cid"], first["cid"]);
    // A non-unique start always creates.
    let fourth = a
        .request(json!({"cmd":"conv","op":"start","m":["bob"],"unique":false}))
        .await;
    assert_ne!(fourth["cid"], first["cid"]);
    let r = a
        .request(json!({"cmd":"conv","op":"query","where":{"unique":true}}))
        .await;
    assert_eq!(r["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(r["results"][0]["unique"], true);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_adds_b_notifies_in_table_order() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "A").await;
    let mut b = Client::open(addr, "B").await;
    let mut c = Client::open(addr, "C").await;
    let cid = a.start(&["C"]).await;
    assert_eq!(c.recv().await["op"], "joined");
    let added = a
        .request(json!({"cmd":"conv","op":"add","cid":cid,"m":["B"]}))
        .await;
    assert_eq!(
        added,
        json!({"cmd":"conv","op":"added","i":added["i"],"cid":cid,"peerId":"A"})
    );
    let mj = |peer: &str| json!({"cmd":"conv","op":"members-joined","cid":cid,"m":["B"],"initBy":"A","peerId":peer});
    assert_eq!(a.recv().await, mj("A"));
    assert_eq!(
        b.recv().await,
        json!({"cmd":"conv","op":"joined","cid":cid,"initBy":"A","peerId":"B"})
    );
    assert_eq!(b.recv().await, mj("B"));
    assert_eq!(c.recv().await, mj("C"));
    for x in [&mut a, &mut b, &mut c] {
        x.silent().await;
    }
    // Adding an existing member changes nothing: only the reply.
    let again = a
        .request(json!({"cmd":"conv","op":"add","cid":cid,"m":["B"]}))
        .await;
    assert_eq!(op(&again), ("conv", "added"));
    for x in [&mut a, &mut b, &mut c] {
        x.silent().await;
    }
    assert_eq!(members_of(&mut a, &cid).await, json!(["A", "C", "B"]));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_joins_by_itself() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut owner = Client::open(addr, "C").await;
    let mut a = Client::open(addr, "A").await;
    let cid = owner.start(&[]).await;
    let added = a
        .request(json!({"cmd":"conv","op":"add","cid":cid,"m":["A"]}))
        .await;
    assert_eq!(op(&added), ("conv", "added"));
    assert_eq!(
        a.recv().await,
        json!({"cmd":"conv","op":"joined","cid":cid,"initBy":"A","peerId":"A"})
    );
    let mj = |peer: &str| json!({"cmd":"conv","op":"members-joined","cid":cid,"m":["A"],"initBy":"A","peerId":peer});
    assert_eq!(a.recv().await, mj("A"));
    assert_eq!(owner.recv().await, mj("C"));
    a.silent().await;
    owner.silent().await;
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_removes_b() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "A").await;
    let mut b = Client::open(addr, "B").await;
    let mut c = Client::open(addr, "C").await;
    let cid = a.start(&["B", "C"]).await;
    assert_eq!(b.recv().await["op"], "joined");
    assert_eq!(c.recv().await["op"], "joined");
    let removed = a
        .request(json!({"cmd":"conv","op":"remove","cid":cid,"m":["B"]}))
        .await;
    assert_eq!(
        removed,
        json!({"cmd":"conv","op":"removed","i":removed["i"],"cid":cid,"peerId":"A"})
    );
    let ml = |peer: &str| json!({"cmd":"conv","op":"members-left","cid":cid,"m":["B"],"initBy":"A","peerId":peer});
    assert_eq!(a.recv().await, ml("A"));
    assert_eq!(
        b.recv().await,
        json!({"cmd":"conv","op":"left","cid":cid,"initBy":"A","peerId":"B"})
    );
    assert_eq!(c.recv().await, ml("C"));
    for x in [&mut a, &mut b, &mut c] {
        x.silent().await;
    }
    assert_eq!(members_of(&mut a, &cid).await, json!(["A", "C"]));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_leaves() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "A").await;
    let mut c = Client::open(addr, "C").await;
    let cid = a.start(&["C"]).await;
    assert_eq!(c.recv().await["op"], "joined");
    let removed = a
        .request(json!({"cmd":"conv","op":"remove","cid":cid,"m":["A"]}))
        .await;
    assert_eq!(op(&removed), ("conv", "removed"));
    assert_eq!(
        a.recv().await,
        json!({"cmd":"conv","op":"left","cid":cid,"initBy":"A","peerId":"A"})
    );
    assert_eq!(
        c.recv().await,
        json!({"cmd":"conv","op":"members-left","cid":cid,"m":["A"],"initBy":"A","peerId":"C"})
    );
    a.silent().await;
    c.silent().await;
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn membership_errors() {
    let mut cfg = config();
    cfg.limits.max_members = 3;
    let server = start(cfg).await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "A").await;
    let unknown = "000000000000000000000000";
    for op_name in ["add", "remove", "count", "update"] {
        let err = a
            .request(json!({"cmd":"conv","op":op_name,"cid":unknown,"m":["x"],"attr":{"name":"n"}}))
            .await;
        assert_eq!(
            err,
            json!({"cmd":"error","i":err["i"],"code":4303,"reason":"CONVERSATION_NOT_FOUND","peerId":"A"}),
            "{op_name}"
        );
    }
    let full = a
        .request(json!({"cmd":"conv","op":"start","m":["b","c","d"]}))
        .await;
    assert_eq!(full["code"], 4304);
    assert_eq!(full["reason"], "CONVERSATION_FULL");
    let cid = a.start(&["b", "c"]).await;
    let full = a
        .request(json!({"cmd":"conv","op":"add","cid":cid,"m":["d"]}))
        .await;
    assert_eq!(
        (full["cmd"].clone(), full["code"].clone()),
        (json!("error"), json!(4304))
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn count_and_update() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "A").await;
    let mut outsider = Client::open(addr, "Z").await;
    let cid = a.start(&["B"]).await;
    let count = a
        .request(json!({"cmd":"conv","op":"count","cid":cid}))
        .await;
    assert_eq!(
        count,
        json!({"cmd":"conv","op":"result","i":count["i"],"count":2,"peerId":"A"})
    );
    let updated = a
        .request(json!({"cmd":"conv","op":"update","cid":cid,"attr":{"name":"N2","attr":{"y":2}}}))
        .await;
    assert_eq!(op(&updated), ("conv", "updated"));
    assert_eq!(updated["cid"], json!(cid));
    let udate = updated["udate"].as_str().expect("udate").to_owned();
    let merged = a
        .request(json!({"cmd":"conv","op":"update","cid":cid,"attr":{"attr.z":3,"color":"red"}}))
        .await;
    assert_eq!(op(&merged), ("conv", "updated"));
    let r = a
        .request(json!({"cmd":"conv","op":"query","where":{"objectId":cid}}))
        .await;
    let conv = &r["results"][0];
    assert_eq!(conv["name"], "N2");
    assert_eq!(conv["attr"], json!({"y": 2, "z": 3}));
    assert_eq!(conv["color"], "red");
    assert!(conv["updatedAt"].as_str().expect("updatedAt") >= udate.as_str());
    for reserved in ["m", "objectId", "tr", "createdAt", "lm"] {
        let err = a
            .request(json!({"cmd":"conv","op":"update","cid":cid,"attr":{reserved: 1}}))
            .await;
        assert_eq!(err["code"], 4306, "{reserved}");
        assert_eq!(err["reason"], "CONVERSATION_UPDATE_FAILED");
    }
    let err = outsider
        .request(json!({"cmd":"conv","op":"update","cid":cid,"attr":{"name":"x"}}))
        .await;
    assert_eq!(err["code"], 4309);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn transient_conversations_track_online_participants() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "A").await;
    let mut b = Client::open(addr, "B").await;
    let mut c = Client::open(addr, "C").await;
    let started = a
        .request(json!({"cmd":"conv","op":"start","m":["C"],"attr":{"name":"live"},"unique":true,"transient":true}))
        .await;
    let cid = started["cid"].as_str().expect("cid").to_owned();
    c.silent().await;
    let count = json!({"cmd":"conv","op":"count","cid":cid});
    assert_eq!(a.request(count.clone()).await["count"], 1);
    let joined = b
        .request(json!({"cmd":"conv","op":"add","cid":cid,"m":["B"]}))
        .await;
    assert_eq!(op(&joined), ("conv", "added"));
    a.silent().await;
    b.silent().await;
    assert_eq!(a.request(count.clone()).await["count"], 2);
    let err = a
        .request(json!({"cmd":"conv","op":"add","cid":cid,"m":["C"]}))
        .await;
    assert_eq!(err["code"], 4307);
    let err = a
        .request(json!({"cmd":"conv","op":"remove","cid":cid,"m":["B"]}))
        .await;
    assert_eq!(err["code"], 4307);
    let left = b
        .request(json!({"cmd":"conv","op":"remove","cid":cid,"m":["B"]}))
        .await;
    assert_eq!(op(&left), ("conv", "removed"));
    assert_eq!(a.request(count.clone()).await["count"], 1);
    let r = a
        .request(json!({"cmd":"conv","op":"query","where":{"objectId":cid}}))
        .await;
    assert_eq!(r["results"][0]["tr"], true);
    assert!(r["results"][0].get("m").is_none());
    assert!(r["results"][0].get("unique").is_none());
    // Disconnecting leaves.
    a.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(c.request(count).await["count"], 0);
    server.shutdown().await.expect("shutdown");
}
