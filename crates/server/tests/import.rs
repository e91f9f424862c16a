//! `leanrt-server import` with the real binary: every accepted input shape, what it
//! keeps, errors that name file and line and apply nothing, idempotence, history
//! merged into a live conversation, and `kill -9` half-way.

mod common;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{temp_dir, Client, Config};
use serde_json::{json, Value};

const CID: &str = "5cc6abe117b54d7448151efc";
const ROOM: &str = "5cc6abe117b54d7448151efd";

struct Outcome {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn import(db: &Path, inputs: &[PathBuf], unmapped: &Path) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_leanrt-server"))
        .arg("import")
        .args(inputs)
        .arg("--db")
        .arg(db)
        .arg("--unmapped")
        .arg(unmapped)
        .output()
        .expect("run import");
    Outcome {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

fn record(cid: &str, id: &str, ts: i64, data: Value) -> Value {
    json!({"timestamp":ts,"conv-id":format!("{cid}00000000"),"data":data,"from":"bob","msg-id":id,
           "is-conv":true,"is-room":false,"to":cid,"bin":false,"from-ip":"202.117.15.217"})
}

/// Rows of `sql` from the data file, each as its columns' text.
fn rows(db: &Path, sql: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(db).expect("open");
    let mut st = conn.prepare(sql).expect("prepare");
    let n = st.column_count();
    st.query_map([], |r| {
        (0..n)
            .map(|i| {
                r.get::<_, rusqlite::types::Value>(i).map(|v| match v {
                    rusqlite::types::Value::Null => "NULL".to_owned(),
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
            })
            .collect()
    })
    .expect("query")
    .collect::<Result<_, _>>()
    .expect("rows")
}

fn server_config(db: &Path) -> Config {
    Config {
        db: db.to_string_lossy().into_owned(),
        ..common::config()
    }
}

/// One file of each accepted shape, with duplicates across them.
fn every_shape(dir: &Path) -> Vec<PathBuf> {
    let conv = json!({"objectId":CID,"c":"alice","m":["alice","bob"],"name":"chat",
        "createdAt":{"__type":"Date","iso":"2019-04-29T07:46:41.687Z"},"updatedAt":"2019-04-29T07:46:41.687Z",
        "lm":{"__type":"Date","iso":"2019-04-29T08:00:00.000Z"},"ACL":{"*":{"read":true}},
        "geo":{"__type":"GeoPoint","latitude":39.9,"longitude":116.4},
        "owner":{"__type":"Pointer","className":"_User","objectId":"u1"},
        "raw":{"__type":"Bytes","base64":"aGk="},"icon":{"__type":"File","id":"f1"},
        "msg":"last","msg_mid":"x","joined":true});
    let room = json!({"objectId":ROOM,"c":"alice","m":["ignored"],"tr":true,"createdAt":"2019-05-01T00:00:00.000Z"});
    let page = |rows: Value, cursor: Value| json!({"results":rows,"cursor":cursor});
    let jsonl = |items: &[Value]| items.iter().map(|v| format!("{v}\n")).collect::<String>();
    let history = [
        record(
            CID,
            "m1",
            1_000,
            json!("今天天气不错！ \"quoted\" \u{2028}"),
        ),
        record(CID, "m2", 2_000, json!({"_lctype":-1,"_lctext":"object"})),
        // No `00000000` suffix, no is-conv: conv-id is the conversation.
        json!({"timestamp":3_000,"conv-id":CID,"data":"AAEC","from":"alice","msg-id":"m3","bin":true,"ack-at":3_050,"x-extra":1}),
        // is-conv false, but the suffix names the conversation.
        json!({"timestamp":4_000,"conv-id":format!("{ROOM}00000000"),"data":"r","from":"alice","msg-id":"m4","is-conv":false,"is-room":false,"to":"x"}),
        // A v1 peer message: unmapped.
        json!({"timestamp":5_000,"conv-id":"219946ef32e40c515d33ae6975a5c593","data":"v1","from":"bob","msg-id":"v1","is-conv":false,"to":"carol"}),
        // A conversation that is nowhere: unmapped.
        record("0123456789abcdef01234567", "lost", 6_000, json!("lost")),
    ];
    vec![
        write(
            dir,
            "_Conversation.jsonl.gz",
            &gzip(jsonl(std::slice::from_ref(&conv)).as_bytes()),
        ),
        write(
            dir,
            "array.json",
            json!([conv.clone()]).to_string().as_bytes(),
        ),
        write(
            dir,
            "page.json",
            page(json!([room.clone()]), Value::Null)
                .to_string()
                .as_bytes(),
        ),
        write(
            dir,
            "pages.json",
            format!(
                "{}\n{}",
                page(json!([conv]), json!("c1")),
                page(json!([room]), Value::Null)
            )
            .as_bytes(),
        ),
        write(dir, "history.jsonl", jsonl(&history[..3]).as_bytes()),
        write(
            dir,
            "history-v11.json",
            Value::Array(history[2..].to_vec()).to_string().as_bytes(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_shape_imports_and_a_second_run_changes_nothing() {
    let dir = temp_dir("import-shapes");
    let db = dir.join("leanrt.db");
    let unmapped = dir.join("unmapped.jsonl");
    let inputs = every_shape(&dir);
    let first = import(&db, &inputs, &unmapped);
    assert!(first.ok, "{}", first.stderr);
    assert!(
        first.stdout.contains("imported 2 conversations (2 new) and 4 messages; 4 duplicates skipped; 2 unmapped records"),
        "{}",
        first.stdout
    );
    let lost: Vec<Value> = std::fs::read_to_string(&unmapped)
        .expect("unmapped")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lost.len(), 2);
    assert!(
        lost[0]["at"]
            .as_str()
            .unwrap_or("")
            .ends_with("history-v11.json:1 (element 2)"),
        "{}",
        lost[0]
    );
    assert_eq!(lost[0]["record"]["msg-id"], "v1");
    assert_eq!(lost[1]["record"]["msg-id"], "lost");
    assert!(lost[1]["reason"]
        .as_str()
        .unwrap_or("")
        .contains("no conversation 0123456789abcdef01234567"));

    let messages = r#"SELECT c."objectId", m.key & 4294967295, m."msgId", m.data, m.timestamp,
        coalesce(m."ackAt", 'NULL'), coalesce(m.meta, 'NULL')
        FROM messages m JOIN conversations c ON c.num = m.key >> 32 ORDER BY m.key"#;
    let before = rows(&db, messages);
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        before,
        vec![
            s(&[
                CID,
                "1",
                "m1",
                "今天天气不错！ \"quoted\" \u{2028}",
                "1000",
                "NULL",
                r#"{"bin":false,"from-ip":"202.117.15.217","is-room":false}"#
            ]),
            s(&[
                CID,
                "2",
                "m2",
                r#"{"_lctext":"object","_lctype":-1}"#,
                "2000",
                "NULL",
                r#"{"bin":false,"from-ip":"202.117.15.217","is-room":false}"#
            ]),
            s(&[
                CID,
                "3",
                "m3",
                "AAEC",
                "3000",
                "3050",
                r#"{"bin":true,"x-extra":1}"#
            ]),
            s(&[ROOM, "1", "m4", "r", "4000", "NULL", r#"{"is-room":false}"#]),
        ]
    );
    let members = "SELECT c.\"objectId\", m.client_id, m.acked, c.last_seq, c.lm FROM members m JOIN conversations c ON c.num = m.conv ORDER BY 1, 2";
    assert_eq!(
        rows(&db, members),
        vec![
            s(&[CID, "alice", "3", "3", "1556524800000"]),
            s(&[CID, "bob", "3", "3", "1556524800000"])
        ],
        "every member has every imported message; lm keeps the exported one"
    );
    let tables = |db: &Path| {
        [messages, members, r#"SELECT "objectId", c, m, name, tr, extra, "createdAt", "updatedAt" FROM conversations ORDER BY 1"#, "SELECT * FROM acked_ranges"]
            .iter()
            .map(|q| rows(db, q))
            .collect::<Vec<_>>()
    };
    let snapshot = tables(&db);
    assert_eq!(
        snapshot[2][0],
        s(&[
            CID,
            "alice",
            r#"["alice","bob"]"#,
            "chat",
            "0",
            r#"{"ACL":{"*":{"read":true}},"geo":{"__type":"GeoPoint","latitude":39.9,"longitude":116.4},"icon":{"__type":"File","id":"f1"},"owner":{"__type":"Pointer","className":"_User","objectId":"u1"},"raw":{"__type":"Bytes","base64":"aGk="}}"#,
            "1556524001687",
            "1556524001687"
        ])
    );
    assert_eq!(snapshot[2][1][2], "[]", "a chat room has no members");

    let again = import(&db, &inputs, &unmapped);
    assert!(again.ok, "{}", again.stderr);
    assert!(
        again
            .stdout
            .contains("(0 new) and 0 messages; 8 duplicates skipped"),
        "{}",
        again.stdout
    );
    assert_eq!(tables(&db), snapshot, "a second import changes nothing");

    // Served as imported; bob is owed nothing at login.
    let server = common::start(server_config(&db)).await;
    let mut bob = Client::open(server.local_addr(), "bob").await;
    bob.silent().await;
    let logs = common::all_logs(&mut bob, CID).await;
    let ids: Vec<&str> = logs
        .iter()
        .map(|l| l["msgId"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ids, ["m1", "m2", "m3"]);
    assert_eq!(logs[0]["data"], "今天天气不错！ \"quoted\" \u{2028}");
    assert_eq!(logs[2]["ackAt"], 3050);
    bob.close().await;
    server.shutdown().await.expect("shutdown");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_names_file_and_line_and_applies_nothing() {
    let dir = temp_dir("import-bad");
    let db = dir.join("leanrt.db");
    let unmapped = dir.join("unmapped.jsonl");
    let good = write(
        &dir,
        "a.jsonl",
        format!("{}\n", json!({"objectId":CID,"m":["a"]})).as_bytes(),
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.jsonl",
            b"{\"objectId\":\"x1\"}\n{\"objectId\":\"x2\"}\n{\"objectId\":\"x".to_vec(),
            "truncated.jsonl:3: truncated JSON",
        ),
        (
            "latin1.jsonl",
            b"{\"objectId\":\"x1\"}\n{\"objectId\":\"caf\xe9\"}\n".to_vec(),
            "latin1.jsonl:2: not UTF-8",
        ),
        (
            "bad-record.jsonl",
            b"{\"objectId\":\"x1\"}\n{\"msg-id\":\"m\",\"from\":\"a\"}\n".to_vec(),
            "bad-record.jsonl:2: \"timestamp\" must be a time in ms",
        ),
        (
            "neither.json",
            b"[{\"objectId\":\"x1\"},{\"hello\":1}]".to_vec(),
            "neither.json:1 (element 1): neither a _Conversation row",
        ),
    ];
    for (name, bytes, expected) in cases {
        let bad = write(&dir, name, &bytes);
        let out = import(&db, &[good.clone(), bad.clone()], &unmapped);
        assert!(!out.ok, "{name}: {}", out.stdout);
        assert!(out.stderr.contains(expected), "{name}: {}", out.stderr);
        assert!(
            out.stderr.contains("nothing was imported"),
            "{}",
            out.stderr
        );
        assert_eq!(
            rows(&db, "SELECT count(*) FROM conversations"),
            [["0"]],
            "{name}"
        );
        std::fs::remove_file(bad).expect("remove");
    }
    let tar = write(
        &dir,
        "export.tar.gz",
        &gzip(&{
            let mut block = vec![0u8; 1024];
            block[257..262].copy_from_slice(b"ustar");
            block
        }),
    );
    let out = import(&db, &[tar], &unmapped);
    assert!(
        out.stderr.contains("a tar archive: extract it first"),
        "{}",
        out.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn history_merged_before_live_messages_keeps_what_members_are_owed() {
    let dir = temp_dir("import-merge");
    let db = dir.join("leanrt.db");
    let unmapped = dir.join("unmapped.jsonl");
    let conv = json!({"objectId":CID,"c":"alice","m":["alice","bob"]});
    let first = write(
        &dir,
        "first.jsonl",
        format!(
            "{conv}\n{}\n{}\n",
            record(CID, "old1", 100, json!("a")),
            record(CID, "old3", 300, json!("c"))
        )
        .as_bytes(),
    );
    assert!(import(&db, &[first], &unmapped).ok);
    // Live: alice sends while bob is away, so bob is owed it.
    let server = common::start(server_config(&db)).await;
    let mut alice = Client::open(server.local_addr(), "alice").await;
    alice.say(CID, "live").await;
    alice.close().await;
    // The server holds the data file: a second import is refused, clearly.
    let busy = import(&db, &[dir.join("first.jsonl")], &unmapped);
    assert!(
        !busy.ok && busy.stderr.contains("in use by another leanrt-server"),
        "{}",
        busy.stderr
    );
    server.shutdown().await.expect("shutdown");

    // A later export with an older message lands between the imported ones.
    let later = write(
        &dir,
        "later.jsonl",
        format!(
            "{}\n{}\n",
            record(CID, "old2", 200, json!("b")),
            record(CID, "old3", 300, json!("c"))
        )
        .as_bytes(),
    );
    let out = import(&db, &[later], &unmapped);
    assert!(
        out.ok && out.stdout.contains("and 1 messages; 1 duplicates skipped"),
        "{} {}",
        out.stdout,
        out.stderr
    );
    let order = rows(
        &db,
        r#"SELECT key & 4294967295, data FROM messages ORDER BY key"#,
    );
    let seqs: Vec<(&str, &str)> = order
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(
        seqs,
        [("1", "a"), ("2", "b"), ("3", "c"), ("4", "live")],
        "re-sequenced by time"
    );

    let server = common::start(server_config(&db)).await;
    let mut bob = Client::open(server.local_addr(), "bob").await;
    let push = bob.recv().await;
    assert_eq!(
        (
            push["cmd"].as_str(),
            push["msg"].as_str(),
            push["offline"].as_bool()
        ),
        (Some("direct"), Some("live"), Some(true))
    );
    bob.send(json!({"cmd":"ack","cid":CID,"mid":push["id"]}))
        .await;
    bob.silent().await;
    let mut alice = Client::open(server.local_addr(), "alice").await;
    alice.silent().await;
    let logs = common::all_logs(&mut alice, CID).await;
    let msgs: Vec<&str> = logs
        .iter()
        .map(|l| l["data"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(msgs, ["a", "b", "c", "live"]);
    alice.close().await;
    bob.close().await;
    server.shutdown().await.expect("shutdown");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn killed_half_way_keeps_what_it_reported_and_a_rerun_completes_it() {
    let dir = temp_dir("import-kill");
    let db = dir.join("leanrt.db");
    let unmapped = dir.join("unmapped.jsonl");
    let (convs, per) = (20_000usize, 12usize);
    let mut text = String::new();
    for c in 0..convs {
        let cid = format!("a{c:023x}");
        text.push_str(&format!(
            "{}\n",
            json!({"objectId":cid,"c":"x","m":["x", format!("y{c}")]})
        ));
        for k in 0..per {
            text.push_str(&format!(
                "{}\n",
                record(
                    &cid,
                    &format!("{cid}-{k}"),
                    1_000 + k as i64,
                    json!("hello")
                )
            ));
        }
    }
    let input = write(&dir, "all.jsonl", text.as_bytes());
    let mut child = Command::new(env!("CARGO_BIN_EXE_leanrt-server"))
        .arg("import")
        .arg(&input)
        .arg("--db")
        .arg(&db)
        .arg("--unmapped")
        .arg(&unmapped)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut reported = None;
    for line in stderr.lines() {
        let line = line.expect("line");
        if let Some(rest) = line.strip_prefix("imported ") {
            reported = rest.split(' ').next().and_then(|n| n.parse::<usize>().ok());
            child.kill().expect("kill -9");
            break;
        }
    }
    let _ = child.wait();
    let reported = reported.expect("a progress line before the end");
    assert!(reported < convs, "killed before the end");
    let counts = rows(
        &db,
        "SELECT count(*), coalesce(sum(last_seq), 0) FROM conversations",
    );
    let (stored, messages): (usize, usize) = (
        counts[0][0].parse().expect("n"),
        counts[0][1].parse().expect("n"),
    );
    assert!(stored >= reported, "{stored} stored, {reported} reported");
    assert_eq!(
        rows(
            &db,
            &format!("SELECT count(*) FROM conversations WHERE last_seq <> {per}")
        ),
        [["0"]],
        "each conversation is whole"
    );
    assert_eq!(messages, stored * per);
    std::thread::sleep(Duration::from_millis(100));
    let rerun = import(&db, &[input], &unmapped);
    assert!(rerun.ok, "{}", rerun.stderr);
    assert!(
        rerun.stdout.contains(&format!(
            "imported {convs} conversations ({} new) and {} messages",
            convs - stored,
            (convs - stored) * per
        )),
        "{}",
        rerun.stdout
    );
    assert_eq!(
        rows(&db, "SELECT count(*) FROM messages"),
        [[(convs * per).to_string()]]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
