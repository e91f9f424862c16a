//! conv query: operators, dates, sort, limit/skip and flag bits.

mod common;

use common::*;
use serde_json::{json, Value};

struct Fixture {
    server: ServerHandle,
    a: Client,
    /// cids of r0 (alice, bob), r1 (alice, carol), r2 (alice, bob, carol), created in order.
    cids: Vec<String>,
}

async fn fixture() -> Fixture {
    let server = start_default().await;
    let mut a = Client::open(server.local_addr(), "alice").await;
    let mut cids = Vec::new();
    for (n, members) in [vec!["bob"], vec!["carol"], vec!["bob", "carol"]]
        .into_iter()
        .enumerate()
    {
        let r = a
            .request(json!({"cmd":"conv","op":"start","m":members,"attr":{"name":format!("Room {n}"),"attr":{"level":n,"tag":"t"}}}))
            .await;
        cids.push(r["cid"].as_str().expect("cid").to_owned());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // Last messages: r1 first, then r0; r2 has none.
    a.say(&cids[1], "one").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    a.say(&cids[0], "zero").await;
    Fixture { server, a, cids }
}

impl Fixture {
    async fn ids(&mut self, query: Value) -> Vec<usize> {
        let mut frame = json!({"cmd":"conv","op":"query"});
        for (k, v) in query.as_object().expect("object") {
            frame[k] = v.clone();
        }
        let r = self.a.request(frame).await;
        assert_eq!(r["op"], "results", "{r}");
        r["results"]
            .as_array()
            .expect("results array")
            .iter()
            .map(|c| {
                self.cids
                    .iter()
                    .position(|id| c["objectId"] == json!(id))
                    .expect("known cid")
            })
            .collect()
    }
}

#[tokio::test]
async fn where_operators() {
    let mut f = fixture().await;
    let cids = f.cids.clone();
    assert_eq!(f.ids(json!({"where":{"m":"bob"}})).await, [0, 2]);
    assert_eq!(
        f.ids(json!({"where":{"m":{"$all":["bob","carol"]}}})).await,
        [2]
    );
    assert_eq!(
        f.ids(json!({"where":{"m":{"$in":["carol"]}}})).await,
        [1, 2]
    );
    assert_eq!(f.ids(json!({"where":{"m":{"$nin":["carol"]}}})).await, [0]);
    assert_eq!(f.ids(json!({"where":{"m":{"$size":3}}})).await, [2]);
    assert_eq!(
        f.ids(json!({"where":{"objectId":{"$in":[cids[2], cids[1]]}}}))
            .await,
        [1, 2]
    );
    assert_eq!(f.ids(json!({"where":{"objectId":cids[2]}})).await, [2]);
    assert_eq!(f.ids(json!({"where":{"attr.level":1}})).await, [1]);
    assert_eq!(
        f.ids(json!({"where":{"attr.level":{"$gte":1},"attr.tag":"t"}}))
            .await,
        [1, 2]
    );
    assert_eq!(f.ids(json!({"where":{"attr.level":{"$lt":1}}})).await, [0]);
    assert_eq!(
        f.ids(json!({"where":{"attr.level":{"$ne":1},"c":"alice"}}))
            .await,
        [0, 2]
    );
    assert_eq!(
        f.ids(json!({"where":{"name":{"$regex":"^room [02]$","$options":"i"}}}))
            .await,
        [0, 2]
    );
    assert_eq!(
        f.ids(json!({"where":{"name":{"$regex":"\\QRoom 1\\E"}}}))
            .await,
        [1]
    );
    assert_eq!(f.ids(json!({"where":{"lm":{"$exists":false}}})).await, [2]);
    assert_eq!(
        f.ids(json!({"where":{"tr":true}})).await,
        Vec::<usize>::new()
    );
    assert_eq!(
        f.ids(json!({"where":{"$or":[{"attr.level":0},{"attr.level":2}]}}))
            .await,
        [0, 2]
    );
    assert_eq!(
        f.ids(json!({"where":{"$and":[{"m":"bob"},{"m":"carol"}]}}))
            .await,
        [2]
    );
    let err =
        f.a.request(json!({"cmd":"conv","op":"query","where":{"m":{"$what":1}}}))
            .await;
    assert_eq!(err["cmd"], "error");
    assert_eq!(err["code"], 4310);
    f.server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn dates_sort_limit_and_skip() {
    let mut f = fixture().await;
    // Default sort -lm: r0 (latest message), r1, then r2 without lm.
    assert_eq!(f.ids(json!({"where":{}})).await, [0, 1, 2]);
    assert_eq!(f.ids(json!({})).await, [0, 1, 2]);
    assert_eq!(f.ids(json!({"where":{},"sort":"lm"})).await, [2, 1, 0]);
    assert_eq!(
        f.ids(json!({"where":{},"sort":"-createdAt,c"})).await,
        [2, 1, 0]
    );
    assert_eq!(
        f.ids(json!({"where":{},"sort":"c,createdAt"})).await,
        [0, 1, 2]
    );
    assert_eq!(
        f.ids(json!({"where":{},"sort":"-lm","limit":1,"skip":1}))
            .await,
        [1]
    );
    assert_eq!(f.ids(json!({"where":{},"limit":0})).await, [0]);
    let r =
        f.a.request(json!({"cmd":"conv","op":"query","where":{"objectId":f.cids[0]}}))
            .await;
    let lm = r["results"][0]["lm"].clone();
    assert_eq!(lm["__type"], "Date");
    let created = r["results"][0]["createdAt"]
        .as_str()
        .expect("iso")
        .to_owned();
    assert_eq!(f.ids(json!({"where":{"lm":{"$gte":lm}}})).await, [0]);
    assert_eq!(
        f.ids(json!({"where":{"createdAt":{"$gt":{"__type":"Date","iso":created}}},"sort":"createdAt"})).await,
        [1, 2]
    );
    f.server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn flags_compact_and_last_message() {
    let mut f = fixture().await;
    let cid = f.cids[0].clone();
    for flag in [Value::Null, json!(0)] {
        let r =
            f.a.request(json!({"cmd":"conv","op":"query","where":{"objectId":cid},"flag":flag}))
                .await;
        let conv = &r["results"][0];
        assert_eq!(conv["m"], json!(["alice", "bob"]));
        assert!(conv.get("msg").is_none());
    }
    let r =
        f.a.request(json!({"cmd":"conv","op":"query","where":{"objectId":cid},"flag":1}))
            .await;
    assert!(r["results"][0].get("m").is_none());
    let r =
        f.a.request(json!({"cmd":"conv","op":"query","where":{"m":"alice"},"flag":3}))
            .await;
    let results = r["results"].as_array().expect("results");
    let conv = &results[0];
    assert!(conv.get("m").is_none());
    assert_eq!(conv["msg"], "zero");
    assert_eq!(conv["msg_from"], "alice");
    assert!(conv["msg_mid"].is_string());
    assert!(conv["msg_timestamp"].is_i64());
    assert!(results[2].get("msg").is_none());
    let keys: Vec<&String> = conv.as_object().expect("object").keys().collect();
    for key in [
        "objectId",
        "c",
        "name",
        "attr",
        "lm",
        "createdAt",
        "updatedAt",
    ] {
        assert!(keys.iter().any(|k| *k == key), "{key} in {conv}");
    }
    f.server.shutdown().await.expect("shutdown");
}
