//! What only the PostgreSQL store has to get right: several nodes on one database,
//! a connection that drops, a database that goes away and comes back. Runs with
//! `LEANRT_TEST_PG` (a `postgres://USER@HOST:PORT` URL of a server the tests may
//! create databases on); `.ci/run` starts one. Without it these tests pass as
//! skipped, unless `LEANRT_REQUIRE_PG` is set.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

/// The PostgreSQL server of the run, or `None` (skip).
fn pg_base() -> Option<String> {
    match std::env::var("LEANRT_TEST_PG") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("LEANRT_REQUIRE_PG").is_none(),
                "LEANRT_REQUIRE_PG is set but LEANRT_TEST_PG is not"
            );
            eprintln!("skipped: set LEANRT_TEST_PG to run the PostgreSQL tests");
            None
        }
    }
}

/// A config on database `db`.
fn on(db: &str) -> Config {
    Config {
        db: db.to_owned(),
        ..config()
    }
}

/// A direct connection to the test database, for checking what was stored.
async fn sql(db: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(db, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(conn);
    client
}

/// Two nodes on database `db`.
async fn nodes(db: &str) -> [ServerHandle; 2] {
    [start(on(db)).await, start(on(db)).await]
}

async fn stop(nodes: impl IntoIterator<Item = ServerHandle>) {
    for node in nodes {
        node.shutdown().await.expect("shutdown");
    }
}

fn ack_of(cid: &str, frame: &Value) -> Value {
    json!({"cmd":"ack","cid":cid,"mid":frame["id"]})
}

#[tokio::test]
async fn two_nodes_on_one_database_give_one_gap_free_seq_per_conversation() {
    let Some(_) = pg_base() else { return };
    let db = test_db();
    let [n1, n2] = nodes(&db).await;
    let mut a = Client::open(n1.local_addr(), "pg2-alice").await;
    let b = Client::open(n2.local_addr(), "pg2-bob").await;
    let cid = a.start(&["pg2-bob"]).await;
    const EACH: usize = 150;
    let (a, b) = tokio::join!(
        a.say_numbered(&cid, "a", EACH),
        b.say_numbered(&cid, "b", EACH)
    );
    let store = sql(&db).await;
    let rows = store
        .query(
            r#"SELECT m.seq, m.timestamp, convert_from(m.data, 'UTF8') FROM messages m
               JOIN conversations c ON c.num = m.conv WHERE c."objectId" = $1 ORDER BY m.seq"#,
            &[&cid],
        )
        .await
        .expect("read messages");
    let seqs: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(seqs, (1..=2 * EACH as i64).collect::<Vec<_>>());
    let times: Vec<i64> = rows.iter().map(|r| r.get(1)).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "timestamps never decrease along seq"
    );
    // Each sender's messages are in its own order.
    for who in ["a", "b"] {
        let mine: Vec<String> = rows
            .iter()
            .map(|r| r.get::<_, String>(2))
            .filter(|t| t.starts_with(who))
            .collect();
        let expected: Vec<String> = (0..EACH).map(|n| format!("{who}{n}")).collect();
        assert_eq!(mine, expected);
    }
    let last: i64 = store
        .query_one(
            r#"SELECT last_seq FROM conversations WHERE "objectId" = $1"#,
            &[&cid],
        )
        .await
        .expect("head")
        .get(0);
    assert_eq!(last, 2 * EACH as i64);
    for c in [a, b] {
        c.close().await;
    }
    stop([n1, n2]).await;
}

#[tokio::test]
async fn messages_sent_on_one_node_reach_a_member_logging_in_on_the_other() {
    let Some(_) = pg_base() else { return };
    let db = test_db();
    let [n1, n2] = nodes(&db).await;
    let mut a = Client::open(n1.local_addr(), "pgo-alice").await;
    let cid = a.start(&["pgo-bob"]).await;
    let sent: Vec<Value> = [
        a.say(&cid, "one").await,
        a.say(&cid, "two").await,
        a.say(&cid, "three").await,
    ]
    .into();
    // Offline pushes at login on the other node, oldest first.
    let mut b = Client::open(n2.local_addr(), "pgo-bob").await;
    let got = [b.recv().await, b.recv().await, b.recv().await];
    let texts: Vec<&str> = got
        .iter()
        .map(|f| f["msg"].as_str().expect("msg"))
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
    for (f, s) in got.iter().zip(&sent) {
        assert_eq!(f["id"], s["uid"]);
        assert_eq!(f["offline"], true);
    }
    b.silent().await;
    for f in &got[..2] {
        b.send(ack_of(&cid, f)).await;
    }
    // Acks are committed a moment later: wait until the cursor has moved.
    let store = sql(&db).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let acked: i64 = store
            .query_one("SELECT acked FROM members WHERE client_id = 'pgo-bob'", &[])
            .await
            .expect("cursor")
            .get(0);
        if acked == 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "acks not committed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    b.close().await;
    // Back on the first node: only the unacked one is owed.
    let mut b = Client::open(n1.local_addr(), "pgo-bob").await;
    let again = b.recv().await;
    assert_eq!(again["id"], sent[2]["uid"]);
    b.silent().await;
    for c in [a, b] {
        c.close().await;
    }
    stop([n1, n2]).await;
}

#[tokio::test]
async fn a_unique_conversation_started_on_two_nodes_at_once_is_one() {
    let Some(_) = pg_base() else { return };
    let db = test_db();
    let [n1, n2] = nodes(&db).await;
    let start_unique = |addr: SocketAddr, me: &'static str| async move {
        let mut c = Client::open(addr, me).await;
        let r = c
            .request(json!({"cmd":"conv","op":"start","m":["pgu-a","pgu-b"],"unique":true,"transient":false}))
            .await;
        assert_eq!(r["op"], "started", "{r}");
        c.close().await;
        r["cid"].as_str().expect("cid").to_owned()
    };
    for _ in 0..5 {
        let (x, y) = tokio::join!(
            start_unique(n1.local_addr(), "pgu-a"),
            start_unique(n2.local_addr(), "pgu-b")
        );
        assert_eq!(x, y);
    }
    let count: i64 = sql(&db)
        .await
        .query_one(r#"SELECT count(*) FROM conversations WHERE "unique""#, &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 1);
    stop([n1, n2]).await;
}

#[tokio::test]
async fn sending_survives_the_writer_connection_being_killed() {
    let Some(_) = pg_base() else { return };
    let db = test_db();
    let node = start(on(&db)).await;
    let mut a = Client::open(node.local_addr(), "pgk-alice").await;
    let cid = a.start(&["pgk-bob"]).await;
    a.say(&cid, "before").await;
    let store = sql(&db).await;
    let killed: i64 = store
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'leanrt-server'",
            &[],
        )
        .await
        .expect("terminate")
        .get(0);
    assert!(killed >= 1, "the server's connections were found");
    // The writer and the readers reconnect; the service retries what failed.
    a.say(&cid, "after").await;
    let logs = all_logs(&mut a, &cid).await;
    let texts: Vec<&str> = logs
        .iter()
        .map(|m| m["data"].as_str().expect("data"))
        .collect();
    assert_eq!(texts, ["before", "after"]);
    a.close().await;
    node.shutdown().await.expect("shutdown");
}

/// A TCP relay to PostgreSQL that can be cut (every connection dropped, new ones
/// refused) and restored: a database that goes away and comes back.
struct Relay {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    cut: Arc<tokio::sync::Notify>,
}

impl Relay {
    async fn to(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let up = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(tokio::sync::Notify::new());
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue;
                }
                let cut = cut2.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.notified() => {}
                    }
                });
            }
        });
        Relay { addr, up, cut }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.notify_waiters();
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_lost_database_fails_sends_with_4301_and_they_resume_when_it_returns() {
    let Some(_) = pg_base() else { return };
    let db = test_db();
    let cfg: tokio_postgres::Config = db.parse().expect("url");
    let host = match &cfg.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        #[allow(unreachable_patterns)]
        _ => panic!("LEANRT_TEST_PG must name a TCP host"),
    };
    let upstream: SocketAddr = format!("{host}:{}", cfg.get_ports()[0])
        .parse()
        .expect("an IP address in LEANRT_TEST_PG");
    let relay = Relay::to(upstream).await;
    let via = format!(
        "postgres://{}@{}/{}",
        cfg.get_user().expect("a user in LEANRT_TEST_PG"),
        relay.addr,
        cfg.get_dbname().expect("dbname")
    );
    let node = start(on(&via)).await;
    let mut a = Client::open(node.local_addr(), "pgl-alice").await;
    let cid = a.start(&["pgl-bob"]).await;
    a.say(&cid, "one").await;
    relay.cut();
    let failed = tokio::time::timeout(
        Duration::from_secs(20),
        a.request(json!({"cmd":"direct","cid":cid,"msg":"lost","r":false,"transient":false})),
    )
    .await
    .expect("an answer, not a hang");
    assert_eq!(failed["cmd"], "ack", "{failed}");
    assert_eq!(failed["code"], 4301, "{failed}");
    let logs = tokio::time::timeout(
        Duration::from_secs(20),
        a.request(json!({"cmd":"logs","cid":cid,"limit":10})),
    )
    .await
    .expect("an answer, not a hang");
    assert_eq!(logs["code"], 4311, "{logs}");
    relay.restore();
    // Sending resumes by itself.
    a.say(&cid, "two").await;
    let texts: Vec<String> = all_logs(&mut a, &cid)
        .await
        .iter()
        .map(|m| m["data"].as_str().expect("data").to_owned())
        .collect();
    assert_eq!(texts, ["one", "two"]);
    a.close().await;
    node.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn text_postgres_cannot_hold_fails_its_own_request_only() {
    let Some(_) = pg_base() else { return };
    let node = start(config()).await;
    let mut a = Client::open(node.local_addr(), "pgn-alice").await;
    let cid = a.start(&["pgn-bob"]).await;
    // A NUL in a message is kept (messages are bytes).
    a.say(&cid, "a\u{0}b").await;
    let refused = a
        .request(json!({"cmd":"conv","op":"start","m":["pgn-bob"],"attr":{"name":"x\u{0}y"},"unique":false,"transient":false}))
        .await;
    assert_eq!(refused["cmd"], "error", "{refused}");
    assert_eq!(refused["code"], 4301, "{refused}");
    assert_eq!(
        refused["detail"],
        "text with a NUL character cannot be stored"
    );
    a.say(&cid, "after").await;
    let texts: Vec<String> = all_logs(&mut a, &cid)
        .await
        .iter()
        .map(|m| m["data"].as_str().expect("data").to_owned())
        .collect();
    assert_eq!(texts, ["a\u{0}b", "after"]);
    a.close().await;
    node.shutdown().await.expect("shutdown");
}

/// Runs `leanrt-server migrate`; returns its stdout.
fn migrate(from: &std::path::Path, to: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leanrt-server"))
        .args(["migrate", "--from"])
        .arg(from)
        .args(["--to", to])
        .output()
        .expect("run migrate");
    assert!(
        out.status.success(),
        "migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[tokio::test]
async fn migrate_copies_an_sqlite_deployment_with_history_and_cursors_once() {
    let Some(_) = pg_base() else { return };
    let file = temp_dir("migrate").join("leanrt.db");
    let sqlite = start(on(file.to_str().expect("path"))).await;
    let mut a = Client::open(sqlite.local_addr(), "pgm-alice").await;
    let cid = a.start(&["pgm-bob", "pgm-carol"]).await;
    let unique = a
        .request(json!({"cmd":"conv","op":"start","m":["pgm-bob"],"unique":true,"transient":false,"attr":{"attr":{"level":3}}}))
        .await;
    assert_eq!(unique["op"], "started");
    let mut sent = Vec::new();
    for n in 0..30 {
        sent.push(a.say(&cid, &format!("m{n}")).await);
    }
    let mut b = Client::open(sqlite.local_addr(), "pgm-bob").await;
    let mut pushed = Vec::new();
    while pushed.len() < 30 {
        let f = b.recv().await;
        if f["cid"] == json!(cid) {
            pushed.push(f);
        }
    }
    // Bob has the first ten and the fifteenth: a cursor with a run above it.
    for f in pushed[..10].iter().chain([&pushed[14]]) {
        b.send(ack_of(&cid, f)).await;
    }
    // Frames of one connection are handled in order: the acks are queued.
    b.request(json!({"cmd":"conv","op":"query","where":{"objectId":cid}}))
        .await;
    // Acks are committed a moment later: read the history once they are.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let before = loop {
        let logs = all_logs(&mut a, &cid).await;
        if logs.iter().filter(|m| m.get("ackAt").is_some()).count() == 11 {
            break logs;
        }
        assert!(tokio::time::Instant::now() < deadline, "acks not committed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    a.close().await;
    b.close().await;
    sqlite.shutdown().await.expect("shutdown");

    let db = test_db();
    let out = migrate(&file, &db);
    assert_eq!(
        out.trim(),
        "migrated 2 conversations, 30 messages and 5 member cursors; 0 conversations were in the database already"
    );
    let again = migrate(&file, &db);
    assert_eq!(
        again.trim(),
        "migrated 0 conversations, 0 messages and 0 member cursors; 2 conversations were in the database already"
    );

    let node = start(on(&db)).await;
    let mut a = Client::open(node.local_addr(), "pgm-alice").await;
    assert_eq!(all_logs(&mut a, &cid).await, before);
    // Bob is owed what he did not ack, oldest first; Carol everything.
    let mut b = Client::open(node.local_addr(), "pgm-bob").await;
    let mut got = Vec::new();
    for _ in 0..19 {
        got.push(b.recv().await["id"].clone());
    }
    b.silent().await;
    let expected: Vec<Value> = sent
        .iter()
        .enumerate()
        .filter(|(n, _)| *n >= 10 && *n != 14)
        .map(|(_, s)| s["uid"].clone())
        .collect();
    assert_eq!(got, expected);
    let mut c = Client::open(node.local_addr(), "pgm-carol").await;
    for s in &sent {
        assert_eq!(c.recv().await["id"], s["uid"]);
    }
    // The unique conversation is found again by its members, and by its attr.
    let found = a
        .request(json!({"cmd":"conv","op":"start","m":["pgm-bob"],"unique":true,"transient":false}))
        .await;
    assert_eq!(found["cid"], unique["cid"]);
    let hits = a
        .request(json!({"cmd":"conv","op":"query","where":{"attr.level":3,"m":"pgm-alice"}}))
        .await;
    assert_eq!(hits["results"].as_array().map(Vec::len), Some(1), "{hits}");
    for client in [a, b, c] {
        client.close().await;
    }
    node.shutdown().await.expect("shutdown");
}

/// Runs `leanrt-server import FILE --db DB`; returns its stdout.
fn import_into(db: &str, file: &std::path::Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leanrt-server"))
        .arg("import")
        .arg(file)
        .args(["--db", db, "--unmapped"])
        .arg(file.with_extension("unmapped"))
        .output()
        .expect("run import");
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_history_merges_before_live_messages_on_postgres() {
    let Some(_) = pg_base() else { return };
    const CID: &str = "5cc6abe117b54d7448151e01";
    let dir = temp_dir("pg-import");
    let db = test_db();
    let export = |name: &str, lines: &[Value]| {
        let path = dir.join(name);
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, text).expect("write");
        path
    };
    let record = |id: &str, ts: i64, data: &str| {
        json!({"timestamp":ts,"conv-id":CID,"data":data,"from":"pgi-bob","msg-id":id,
               "is-conv":true,"is-room":false,"to":CID,"bin":false})
    };
    let conv = json!({"objectId":CID,"c":"pgi-alice","m":["pgi-alice","pgi-bob"]});
    let first = export(
        "first.jsonl",
        &[
            conv,
            record("pgi-old1", 100, "a"),
            record("pgi-old3", 300, "c"),
        ],
    );
    let out = import_into(&db, &first);
    assert!(out.contains("(1 new) and 2 messages"), "{out}");
    // Live: alice sends while bob is away, so bob is owed it.
    let node = start(on(&db)).await;
    let mut alice = Client::open(node.local_addr(), "pgi-alice").await;
    alice.say(CID, "live").await;
    alice.close().await;
    node.shutdown().await.expect("shutdown");
    // A later export with an older message lands between the imported ones.
    let later = export(
        "later.jsonl",
        &[record("pgi-old2", 200, "b"), record("pgi-old3", 300, "c")],
    );
    let out = import_into(&db, &later);
    assert!(
        out.contains("and 1 messages; 1 duplicates skipped"),
        "{out}"
    );
    let rows = sql(&db)
        .await
        .query(
            "SELECT seq, convert_from(data, 'UTF8') FROM messages ORDER BY seq",
            &[],
        )
        .await
        .expect("messages");
    let order: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let expected: Vec<(i64, String)> = [(1, "a"), (2, "b"), (3, "c"), (4, "live")]
        .iter()
        .map(|&(s, d)| (s, d.to_owned()))
        .collect();
    assert_eq!(order, expected, "re-sequenced by time");
    // What bob was owed stays owed, and only that.
    let node = start(on(&db)).await;
    let mut bob = Client::open(node.local_addr(), "pgi-bob").await;
    let push = bob.recv().await;
    assert_eq!(
        (push["msg"].as_str(), push["offline"].as_bool()),
        (Some("live"), Some(true))
    );
    bob.silent().await;
    bob.close().await;
    node.shutdown().await.expect("shutdown");
}

/// A PostgreSQL server of the test's own (scripts/postgres.sh), so that crashing it
/// disturbs no other test.
struct OwnPostgres {
    dir: std::path::PathBuf,
    url: String,
}

impl OwnPostgres {
    fn script(args: &[&str]) -> String {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/postgres.sh");
        let out = std::process::Command::new(script)
            .args(args)
            .output()
            .expect("scripts/postgres.sh");
        assert!(
            out.status.success(),
            "postgres.sh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn start() -> OwnPostgres {
        let dir = std::path::PathBuf::from(format!(
            "/tmp/leanrt-pg-test-{}-{}",
            std::process::id(),
            rand_token()
        ));
        let url = OwnPostgres::script(&["start", dir.to_str().expect("path")]);
        OwnPostgres { dir, url }
    }

    fn run(&self, command: &str) {
        OwnPostgres::script(&[command, self.dir.to_str().expect("path")]);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/postgres.sh"
        ))
        .args(["stop", self.dir.to_str().unwrap_or("")])
        .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rand_token() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_crashing_gives_storage_codes_then_recovers_with_nothing_acked_lost() {
    let Some(_) = pg_base() else { return };
    let pg = OwnPostgres::start();
    let node = start(on(&format!("{}/crash", pg.url))).await;
    let mut a = Client::open(node.local_addr(), "pgc-alice").await;
    let cid = a.start(&["pgc-bob"]).await;
    let mut acked = Vec::new();
    for n in 0..20 {
        acked.push(a.say(&cid, &format!("m{n}")).await["uid"].clone());
    }
    pg.run("crash");
    let failed = tokio::time::timeout(
        Duration::from_secs(20),
        a.request(json!({"cmd":"direct","cid":cid,"msg":"lost","r":false,"transient":false})),
    )
    .await
    .expect("an answer, not a hang");
    assert_eq!(
        (&failed["cmd"], &failed["code"]),
        (&json!("ack"), &json!(4301)),
        "{failed}"
    );
    pg.run("resume");
    // Sending resumes by itself once PostgreSQL has recovered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let after = loop {
        let r = a
            .request(json!({"cmd":"direct","cid":cid,"msg":"after","r":false,"transient":false}))
            .await;
        if r.get("code").is_none() {
            break r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "sending never resumed: {r}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    acked.push(after["uid"].clone());
    let logged: Vec<Value> = all_logs(&mut a, &cid)
        .await
        .iter()
        .map(|m| m["msgId"].clone())
        .collect();
    assert_eq!(logged, acked, "every acked message, and only those");
    a.close().await;
    node.shutdown().await.expect("shutdown");
}
