//! A data file written by the first release (schema v1, per-recipient offline rows)
//! is migrated at startup: its pending rows become cursors, so each clientId gets
//! exactly what it had pending, and nothing else.
//!
//! `fixtures/v1.db` was written by leanrt-server at commit 3ac65f0 (the release
//! before cursors), from a script that did, in conversation A (alice, bob, carol):
//! alice sent a1..a5 (a2 with a receipt) while bob was online and acked a1..a3; bob
//! sent b1, b2 while alice was online but did not ack; carol logged in later and acked
//! only a3. Alice also sent u1 into the unique conversation U (alice, bob) and t1
//! into the transient T. `fixtures/v1.json` holds the ids.

mod common;

use common::*;
use serde_json::{json, Value};

fn fixture() -> (std::path::PathBuf, Value) {
    let dir = temp_dir("v1");
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let db = dir.join("leanrt.db");
    std::fs::copy(here.join("v1.db"), &db).expect("copy the v1 file");
    let ids = std::fs::read_to_string(here.join("v1.json")).expect("ids");
    (db, serde_json::from_str(&ids).expect("json"))
}

fn file_config(db: &std::path::Path) -> Config {
    Config {
        db: db.to_string_lossy().into_owned(),
        ..config()
    }
}

/// Logs in, takes every pushed message (acking each), and returns their texts.
async fn owed(addr: std::net::SocketAddr, who: &str) -> Vec<String> {
    let mut c = Client::open(addr, who).await;
    let mut texts = Vec::new();
    while let Some(Event::Frame(f)) = c.next_event(std::time::Duration::from_millis(500)).await {
        assert_eq!(
            (&f["cmd"], &f["offline"]),
            (&json!("direct"), &json!(true)),
            "{f}"
        );
        c.send(json!({"cmd":"ack","cid":f["cid"],"mid":f["id"]}))
            .await;
        texts.push(f["msg"].as_str().expect("msg").to_owned());
    }
    c.close().await;
    texts
}

#[tokio::test]
async fn a_v1_file_keeps_its_data_and_each_pending_message_once() {
    let (db, ids) = fixture();
    let server = start(file_config(&db)).await;
    let addr = server.local_addr();
    let (a, u) = (ids["A"].as_str().expect("A"), ids["U"].as_str().expect("U"));

    // Exactly what each one had pending, oldest first, conversation by conversation.
    assert_eq!(owed(addr, "bob").await, ["a4", "a5", "u1"]);
    assert_eq!(
        owed(addr, "carol").await,
        ["a1", "a2", "a4", "a5", "b1", "b2"]
    );
    assert_eq!(owed(addr, "alice").await, ["b1", "b2"]);
    for who in ["alice", "bob", "carol"] {
        assert!(
            owed(addr, who).await.is_empty(),
            "{who} got something twice"
        );
    }

    let mut alice = Client::open(addr, "alice").await;
    let found = alice
        .request(json!({"cmd":"conv","op":"query","where":{"objectId":a}}))
        .await;
    let conv = &found["results"][0];
    assert_eq!(conv["m"], json!(["alice", "bob", "carol"]));
    assert_eq!(
        (&conv["name"], &conv["attr"], &conv["color"]),
        (&json!("team"), &json!({"topic":"ops"}), &json!("red"))
    );
    let unique = alice
        .request(json!({"cmd":"conv","op":"start","m":["bob"],"unique":true}))
        .await;
    assert_eq!(
        unique["cid"], u,
        "the unique conversation is found by its members"
    );
    // An equality on attr goes through the index built during the migration.
    let by_attr = alice
        .request(json!({"cmd":"conv","op":"query","where":{"attr.topic":"ops"}}))
        .await;
    assert_eq!(by_attr["results"][0]["objectId"], a);

    // History is intact, with the ackAt of the first release, and goes on.
    let fresh = alice.say(a, "a6").await;
    let logs = alice
        .request(json!({"cmd":"logs","cid":a,"limit":100}))
        .await;
    let items = logs["logs"].as_array().expect("logs");
    let texts: Vec<&str> = items
        .iter()
        .map(|l| l["data"].as_str().expect("data"))
        .collect();
    assert_eq!(texts, ["a1", "a2", "a3", "a4", "a5", "b1", "b2", "a6"]);
    let sent: Vec<&Value> = ids["ids"].as_array().expect("ids").iter().collect();
    for (item, id) in items.iter().zip(&sent) {
        assert_eq!(&item["msgId"], *id);
    }
    assert_eq!(items[7]["msgId"], fresh["uid"]);
    // a1..a3 keep the time of their first ack in v1; a4, a5 were first acked now.
    let v1_ack_at = json!(1_796_205_796_648_i64);
    for item in &items[..3] {
        assert_eq!(item["ackAt"], v1_ack_at, "{item}");
    }
    for item in &items[3..5] {
        assert!(item["ackAt"].as_i64() > v1_ack_at.as_i64(), "{item}");
    }
    server.shutdown().await.expect("shutdown");

    assert_eq!(schema_version(&db), 3);
}
