//! Restarts on the same database file, kill -9 after acks, and graceful shutdown.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use futures_util::future::join_all;
use serde_json::{json, Value};

fn file_config(db: &Path) -> Config {
    Config {
        db: db.to_string_lossy().into_owned(),
        ..config()
    }
}

#[tokio::test]
async fn a_restart_keeps_conversations_messages_and_offline_queues() {
    let dir = temp_dir("restart");
    let db = dir.join("leanrt.db");
    let server = start(file_config(&db)).await;
    let mut a = Client::open(server.local_addr(), "alice").await;
    let cid = a.start(&["bob"]).await;
    a.request(json!({"cmd":"conv","op":"update","cid":cid,"attr":{"attr":{"k":"v"}}}))
        .await;
    let ack = a.say(&cid, "kept").await;
    server.shutdown().await.expect("shutdown");

    assert_eq!(schema_version(&db), 3);
    let schema = rusqlite::Connection::open(&db).expect("open");
    let mode: String = schema
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    let stored: (String, String) = schema
        .query_row(
            r#"SELECT c, m FROM conversations WHERE "objectId" = ?1"#,
            [&cid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("row");
    assert_eq!(stored, ("alice".into(), r#"["alice","bob"]"#.into()));
    drop(schema);

    let server = start(file_config(&db)).await;
    let mut a = Client::open(server.local_addr(), "alice").await;
    let r = a
        .request(json!({"cmd":"conv","op":"query","where":{"m":"alice"},"flag":2}))
        .await;
    let conv = &r["results"][0];
    assert_eq!(conv["objectId"], json!(cid));
    assert_eq!(conv["attr"], json!({"k": "v"}));
    assert_eq!(conv["msg"], "kept");
    let logs = a.request(json!({"cmd":"logs","cid":cid})).await;
    assert_eq!(logs["logs"][0]["msgId"], ack["uid"]);
    let mut b = Client::open(server.local_addr(), "bob").await;
    let offline = b.recv().await;
    assert_eq!(offline["id"], ack["uid"]);
    assert_eq!(offline["offline"], true);
    // A new message continues the sequence after the stored one.
    a.say(&cid, "after").await;
    let logs = a.request(json!({"cmd":"logs","cid":cid})).await;
    let data: Vec<&Value> = logs["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .map(|l| &l["data"])
        .collect();
    assert_eq!(data, [&json!("kept"), &json!("after")]);
    server.shutdown().await.expect("shutdown");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn every_acked_message_survives_kill_9() {
    let dir = temp_dir("kill9");
    let db = dir.join("leanrt.db");
    // Each sender writes all its messages before it reads: with fan-out as fast as it
    // is now, the others' messages can pass the default outbound queue meanwhile, and
    // the slow-consumer close (tested on its own) is not what this test is about.
    let (child, addr) = spawn_binary_with(&db, &["--outbound-queue", "100000"], &[]);
    let mut owner = Client::open(addr, "owner").await;
    let senders: Vec<String> = (0..4).map(|n| format!("s{n}")).collect();
    let refs: Vec<&str> = senders.iter().map(String::as_str).collect();
    let cid = owner.start(&refs).await;
    // Senders pipeline messages; the server is killed while many are in flight.
    let tasks = senders.into_iter().map(|s| {
        let cid = cid.clone();
        tokio::spawn(async move {
            let mut c = Client::open(addr, &s).await;
            for n in 0..400 {
                c.send(json!({"cmd":"direct","cid":cid,"msg":format!("{s}-{n}"),"i":n}))
                    .await;
            }
            let mut acked = Vec::new();
            while let Some(Event::Frame(f)) = c.next_event(std::time::Duration::from_secs(5)).await
            {
                if f["cmd"] == "ack" {
                    acked.push(f["uid"].as_str().expect("uid").to_owned());
                    if acked.len() == 150 {
                        break;
                    }
                }
            }
            (c, acked)
        })
    });
    let results = join_all(tasks).await;
    drop(child); // SIGKILL
    let mut acked: Vec<String> = Vec::new();
    for r in results {
        let (_c, ids) = r.expect("sender");
        assert_eq!(ids.len(), 150);
        acked.extend(ids);
    }

    let (child, addr) = spawn_binary(&db);
    let mut owner = Client::open(addr, "owner").await;
    // Page through the whole history, newest first.
    let mut stored = std::collections::HashSet::new();
    let mut bound = json!({});
    loop {
        let mut req = json!({"cmd":"logs","cid":cid,"limit":1000});
        if let Some(t) = bound.get("t") {
            req["t"] = t.clone();
            req["mid"] = bound["mid"].clone();
        }
        let page = owner.request_among_pushes(req).await;
        let items = page["logs"].as_array().expect("logs").clone();
        let Some(oldest) = items.first() else {
            break;
        };
        bound = json!({"t": oldest["timestamp"], "mid": oldest["msgId"]});
        stored.extend(
            items
                .iter()
                .filter_map(|l| l["msgId"].as_str().map(String::from)),
        );
    }
    let missing = acked.iter().filter(|id| !stored.contains(*id)).count();
    assert_eq!(missing, 0, "{missing} acked messages lost");
    drop(child);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn sigterm_closes_sockets_with_1001_and_exits_0() {
    let dir = temp_dir("sigterm");
    let (mut server, addr) = spawn_binary(&dir.join("leanrt.db"));
    let mut c = Client::open(addr, "alice").await;
    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    assert_eq!(c.closed().await, Some(1001));
    let started = std::time::Instant::now();
    let exit = loop {
        if let Some(exit) = server.0.try_wait().expect("wait") {
            break exit;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(exit.code(), Some(0));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn library_shutdown_closes_sockets_and_refuses_new_connections() {
    let server = start_default().await;
    let addr = server.local_addr();
    let mut c = Client::open(addr, "alice").await;
    let (closed, stopped) = tokio::join!(c.closed(), server.shutdown());
    assert_eq!(closed, Some(1001));
    stopped.expect("shutdown");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[test]
fn cli_help_and_bad_flags() {
    assert_eq!(
        leanrt_server::cli_main(vec!["leanrt-server".into(), "--help".into()]),
        0
    );
    assert_eq!(
        leanrt_server::cli_main(vec![
            "leanrt-server".into(),
            "--listen".into(),
            "nope".into()
        ]),
        2
    );
    assert_eq!(
        leanrt_server::cli_main(vec!["leanrt-server".into(), "--app".into(), ":k".into()]),
        2
    );
}
