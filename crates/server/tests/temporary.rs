//! Temporary conversations (`conv start` with `tempConv`): the reply's shape, the TTL
//! rules, `tempConvIds` queries, and lazy expiry (4303 for every use, nothing owed).

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// Starts a temporary conversation of `from` with `members`; `ttl` as sent.
async fn start_temp(from: &mut Client, members: &[&str], ttl: Value) -> Value {
    let mut frame = json!({"cmd":"conv","op":"start","m":members,"unique":true,"tempConv":true});
    if !ttl.is_null() {
        frame["tempConvTTL"] = ttl;
    }
    from.request(frame).await
}

fn cid(started: &Value) -> String {
    assert_eq!(started["op"], "started", "{started}");
    started["cid"].as_str().expect("cid").to_owned()
}

/// The `objectId`s of a `conv results` reply.
fn ids_of(results: &Value) -> Vec<String> {
    let rows = results["results"].as_array().expect("results");
    let ids = rows.iter().filter_map(|r| r["objectId"].as_str());
    ids.map(str::to_owned).collect()
}

/// A reply's `cmd` and `code` (0 when it has none).
fn code(frame: &Value) -> (&str, i64) {
    (
        frame["cmd"].as_str().unwrap_or_default(),
        frame["code"].as_i64().unwrap_or_default(),
    )
}

#[tokio::test]
async fn a_temporary_conversation_has_its_prefix_ttl_and_own_queries() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    let mut b = Client::open(addr, "bob").await;

    let started = start_temp(&mut a, &["bob"], json!(60)).await;
    let id = cid(&started);
    assert!(id.starts_with("_tmp:") && id.len() == 27, "{id}");
    assert!(started["cdate"].as_str().expect("cdate").ends_with('Z'));
    assert_eq!(started["tempConvTTL"], 60, "{started}");
    assert_eq!(
        b.recv().await,
        json!({"cmd":"conv","op":"joined","cid":id,"initBy":"alice","peerId":"bob"})
    );
    // Never unique: the same start makes another one.
    let again = cid(&start_temp(&mut a, &["bob"], json!(60)).await);
    assert_ne!(again, id);
    assert_eq!(b.recv().await["op"], "joined");

    // The lifetime: a day by default, at most 30 days; bad ones refused.
    let default = start_temp(&mut a, &[], Value::Null).await;
    assert_eq!(default["tempConvTTL"], 86_400);
    let capped = start_temp(&mut a, &[], json!(90 * 86_400)).await;
    assert_eq!(capped["tempConvTTL"], 2_592_000);
    for (ttl, detail) in [
        (json!(0), "tempConvTTL must be a positive number of seconds"),
        (
            json!(-5),
            "tempConvTTL must be a positive number of seconds",
        ),
        (json!("soon"), "tempConvTTL must be a number of seconds"),
    ] {
        let refused = start_temp(&mut a, &["bob"], ttl.clone()).await;
        assert_eq!(code(&refused), ("error", 4301), "{ttl}: {refused}");
        let text = refused["detail"].as_str().unwrap_or_default();
        assert!(text.starts_with(detail), "{ttl}: {refused}");
    }
    let transient = a
        .request(json!({"cmd":"conv","op":"start","transient":true,"tempConv":true}))
        .await;
    assert_eq!(code(&transient), ("error", 4301), "{transient}");

    // `tempConvIds`: the row has `temp` and the seconds left, not the reserved key.
    let r = b
        .request(json!({"cmd":"conv","op":"query","tempConvIds":[id, "5685c180aaaaaaaaaaaaaaaa"]}))
        .await;
    let rows = r["results"].as_array().expect("results");
    assert_eq!(rows.len(), 1, "{r}");
    let row = &rows[0];
    assert_eq!(row["objectId"], id);
    assert_eq!(row["m"], json!(["alice", "bob"]));
    assert_eq!(row["temp"], true);
    let ttl = row["ttl"].as_i64().expect("ttl");
    assert!((59..=60).contains(&ttl), "{row}");
    assert!(row.get("_tempConvExpiresAt").is_none() && row.get("unique").is_none());

    // `where` leaves them out unless it names them.
    let normal = b.start(&["alice"]).await;
    assert_eq!(a.recv().await["op"], "joined");
    let listed = b
        .request(json!({"cmd":"conv","op":"query","where":{"m":"bob"},"limit":100}))
        .await;
    assert_eq!(ids_of(&listed), [normal], "{listed}");
    let named = b
        .request(json!({"cmd":"conv","op":"query","where":{"objectId":{"$in":[id, again]}}}))
        .await;
    assert_eq!(ids_of(&named).len(), 2, "{named}");

    // The expiry cannot be set, so not put off either; other keys can.
    for (attr, answer) in [
        (json!({"_tempConvExpiresAt": 0}), ("error", 4306)),
        (json!({"topic": "t"}), ("conv", 0)),
    ] {
        let update = a
            .request(json!({"cmd":"conv","op":"update","cid":id,"attr":attr}))
            .await;
        assert_eq!(code(&update), answer, "{update}");
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn an_expired_temporary_conversation_is_not_found() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut a = Client::open(addr, "alice").await;
    let mut b = Client::open(addr, "bob").await;
    let id = cid(&start_temp(&mut a, &["bob", "carol"], json!(1)).await);
    assert_eq!(b.recv().await["op"], "joined");

    // Alive: messages go out live, are kept for carol and are in the history.
    a.say(&id, "soon gone").await;
    let got = b.recv().await;
    assert_eq!(
        (&got["cmd"], &got["cid"], &got["msg"]),
        (&json!("direct"), &json!(id), &json!("soon gone"))
    );
    assert_eq!(all_logs(&mut b, &id).await.len(), 1);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let direct = a
        .request(json!({"cmd":"direct","cid":id,"msg":"late","r":false,"transient":false}))
        .await;
    assert_eq!(code(&direct), ("ack", 4303), "{direct}");
    let transient = a
        .request(json!({"cmd":"direct","cid":id,"msg":"late","transient":true}))
        .await;
    assert_eq!(code(&transient), ("ack", 4303), "{transient}");
    for request in [
        json!({"cmd":"logs","cid":id,"limit":10}),
        json!({"cmd":"conv","op":"add","cid":id,"m":["dave"]}),
        json!({"cmd":"conv","op":"remove","cid":id,"m":["bob"]}),
        json!({"cmd":"conv","op":"count","cid":id}),
        json!({"cmd":"conv","op":"update","cid":id,"attr":{"topic":"t"}}),
        json!({"cmd":"conv","op":"query","tempConvIds":[id]}),
    ] {
        let refused = b.request(request.clone()).await;
        assert_eq!(code(&refused), ("error", 4303), "{request}: {refused}");
    }
    let named = b
        .request(json!({"cmd":"conv","op":"query","where":{"objectId":id}}))
        .await;
    assert_eq!(named["results"], json!([]), "{named}");

    // What carol was owed there is owed no more.
    let mut c = Client::open(addr, "carol").await;
    c.silent().await;
    a.silent().await;
    b.silent().await;
    server.shutdown().await.expect("shutdown");
}
