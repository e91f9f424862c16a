//! `leanrt-server import`: exported conversations and history into the store.
//!
//! 1. **Read** every input (see [`super::input`]) and decode each object; history
//!    records go to a staging file, deduplicated on (`msg-id`, `timestamp`). Any
//!    unreadable file or record stops the import here, before the store is touched.
//! 2. **Apply** one conversation at a time with [`Store::import`], each atomically:
//!    a run killed half-way keeps every conversation it reported, and a rerun skips
//!    what is stored (ids already present change nothing).

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use rusqlite::{params, Connection};
use serde_json::{json, Map, Value};

use super::input::{self, Place};
use super::records::{classify, target, Record};
use crate::domain::Conversation;
use crate::store::{Import, Imported, ImportedMessage, Store, StoreResult};

/// Conversations handed to the store before the first is awaited.
const IN_FLIGHT: usize = 32;
/// How often progress is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);
/// Errors listed before the rest are only counted.
const ERRORS_SHOWN: usize = 20;

/// What the import did, for its last line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub conversations: usize,
    pub created: usize,
    pub messages: usize,
    pub duplicates: usize,
    pub unmapped: usize,
}

/// Records that name no conversation this import or the store has, one JSON line
/// each with the reason and where it was read.
struct Unmapped {
    path: PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
    count: usize,
}

impl Unmapped {
    fn write(&mut self, reason: &str, place: Option<&Place>, record: Value) -> Result<(), String> {
        if self.out.is_none() {
            let file = std::fs::File::create(&self.path)
                .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
            self.out = Some(std::io::BufWriter::new(file));
        }
        let line = json!({
            "reason": reason,
            "at": place.map(ToString::to_string),
            "record": record,
        });
        self.count += 1;
        let out = self.out.as_mut().ok_or("unmapped file closed")?;
        writeln!(out, "{line}").map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }

    fn finish(&mut self) -> Result<(), String> {
        match self.out.take() {
            Some(mut out) => out
                .flush()
                .map_err(|e| format!("cannot write {}: {e}", self.path.display())),
            None => Ok(()),
        }
    }
}

/// History records between reading and applying: a temporary SQLite file, so that
/// an export larger than memory imports too.
struct Staging {
    conn: Connection,
    path: PathBuf,
}

impl Staging {
    fn create(dir: &Path) -> Result<Staging, String> {
        let path = dir.join(format!(
            "leanrt-import-{}-{:08x}.db",
            std::process::id(),
            rand::random::<u32>()
        ));
        let conn = Connection::open(&path)
            .and_then(|c| {
                c.execute_batch(
                    r#"PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
                       CREATE TABLE msgs (cid TEXT NOT NULL, ts INTEGER NOT NULL, id TEXT NOT NULL,
                           "from" TEXT NOT NULL, data TEXT NOT NULL, ack_at INTEGER, meta TEXT,
                           PRIMARY KEY (id, ts)) WITHOUT ROWID;
                       BEGIN;"#,
                )?;
                Ok(c)
            })
            .map_err(|e| format!("cannot create the staging file {}: {e}", path.display()))?;
        Ok(Staging { conn, path })
    }

    /// Stages `m`; false when the same (`msg-id`, `timestamp`) was staged already.
    fn add(&self, cid: &str, m: &ImportedMessage) -> Result<bool, String> {
        self.conn
            .prepare_cached(
                r#"INSERT OR IGNORE INTO msgs (cid, ts, id, "from", data, ack_at, meta)
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"#,
            )
            .and_then(|mut st| {
                st.execute(params![
                    cid,
                    m.timestamp,
                    m.id,
                    m.from,
                    m.data,
                    m.ack_at,
                    m.meta
                ])
            })
            .map(|n| n == 1)
            .map_err(|e| format!("staging failed: {e}"))
    }

    /// Indexes the staged records by conversation; returns the conversation ids.
    fn seal(&self) -> Result<Vec<String>, String> {
        let run = || -> rusqlite::Result<Vec<String>> {
            self.conn
                .execute_batch("COMMIT; CREATE INDEX msgs_cid ON msgs (cid, ts, id);")?;
            let mut st = self
                .conn
                .prepare("SELECT DISTINCT cid FROM msgs ORDER BY cid")?;
            let cids = st.query_map([], |r| r.get(0))?.collect();
            cids
        };
        run().map_err(|e| format!("staging failed: {e}"))
    }

    /// The staged history of `cid`, oldest first.
    fn history(&self, cid: &str) -> Result<Vec<ImportedMessage>, String> {
        let run = || -> rusqlite::Result<Vec<ImportedMessage>> {
            let mut st = self.conn.prepare_cached(
                r#"SELECT id, "from", data, ts, ack_at, meta FROM msgs WHERE cid = ?1 ORDER BY ts, id"#,
            )?;
            let rows = st
                .query_map([cid], |r| {
                    Ok(ImportedMessage {
                        id: r.get(0)?,
                        from: r.get(1)?,
                        data: r.get(2)?,
                        timestamp: r.get(3)?,
                        ack_at: r.get(4)?,
                        meta: r.get(5)?,
                    })
                })?
                .collect();
            rows
        };
        run().map_err(|e| format!("staging failed: {e}"))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A staged message as a history record again, for the unmapped file.
fn as_record(cid: &str, m: &ImportedMessage) -> Value {
    let mut rec = m
        .meta
        .as_deref()
        .and_then(|s| serde_json::from_str::<Map<String, Value>>(s).ok())
        .unwrap_or_default();
    rec.insert("conv-id".into(), json!(cid));
    rec.insert("msg-id".into(), json!(m.id));
    rec.insert("timestamp".into(), json!(m.timestamp));
    rec.insert("from".into(), json!(m.from));
    rec.insert("data".into(), json!(m.data));
    if let Some(at) = m.ack_at {
        rec.insert("ack-at".into(), json!(at));
    }
    Value::Object(rec)
}

/// What reading the inputs found.
struct Read {
    conversations: BTreeMap<String, Conversation>,
    staging: Staging,
    duplicates: usize,
}

/// Reads every input; the errors, when any, with their places.
fn read_inputs(
    files: &[PathBuf],
    max_members: usize,
    staging: Staging,
    unmapped: &mut Unmapped,
) -> Result<Read, Vec<String>> {
    let mut errors = Vec::new();
    let mut read = Read {
        conversations: BTreeMap::new(),
        staging,
        duplicates: 0,
    };
    for file in files {
        let objects = match input::objects(file) {
            Ok(objects) => objects,
            Err(e) => {
                errors.push(e.to_string());
                continue;
            }
        };
        for (place, obj) in objects {
            // Kept as read for the unmapped file.
            let unmappable = obj.contains_key("msg-id") && target(&obj).is_none();
            let kept = unmappable.then(|| Value::Object(obj.clone()));
            match classify(obj, max_members) {
                Err(reason) => errors.push(format!("{place}: {reason}")),
                Ok(_) if !errors.is_empty() => {}
                Ok(Record::Conversation(conv)) => {
                    if read.conversations.contains_key(&conv.id) {
                        read.duplicates += 1;
                    } else {
                        read.conversations.insert(conv.id.clone(), conv);
                    }
                }
                Ok(Record::Message(None, _)) => {
                    let reason = "no conversation: a v1 peer or group message (is-conv false)";
                    if let Err(e) = unmapped.write(reason, Some(&place), kept.unwrap_or_default()) {
                        errors.push(e);
                    }
                }
                Ok(Record::Message(Some(cid), m)) => match read.staging.add(&cid, &m) {
                    Ok(true) => {}
                    Ok(false) => read.duplicates += 1,
                    Err(e) => errors.push(e),
                },
            }
        }
    }
    if errors.is_empty() {
        Ok(read)
    } else {
        Err(errors)
    }
}

/// The import: every file of `inputs` into `store`. Progress goes to stderr; the
/// error, when there is one, lists the bad places.
pub async fn run(
    store: &dyn Store,
    inputs: &[PathBuf],
    max_members: usize,
    unmapped_path: &Path,
) -> Result<Totals, String> {
    // The unmapped file may sit in an input directory (an earlier run's): not input.
    let skip = std::fs::canonicalize(unmapped_path).ok();
    let (files, other_classes) = input::files(inputs)?;
    for file in &other_classes {
        eprintln!("skipping {}: not a _Conversation export", file.display());
    }
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| skip.is_none() || std::fs::canonicalize(f).ok() != skip)
        .collect();
    if files.is_empty() {
        return Err("no input files (.jsonl, .json, .ndjson, optionally .gz)".into());
    }
    let mut unmapped = Unmapped {
        path: unmapped_path.to_owned(),
        out: None,
        count: 0,
    };
    let staging = Staging::create(&std::env::temp_dir())?;
    eprintln!("reading {} file(s)", files.len());
    let read =
        tokio::task::block_in_place(|| read_inputs(&files, max_members, staging, &mut unmapped))
            .map_err(|errors| {
                let mut text = format!("{} error(s); nothing was imported:", errors.len());
                for e in errors.iter().take(ERRORS_SHOWN) {
                    text.push_str("\n  ");
                    text.push_str(e);
                }
                if errors.len() > ERRORS_SHOWN {
                    text.push_str(&format!("\n  … and {} more", errors.len() - ERRORS_SHOWN));
                }
                text
            })?;
    let mut totals = Totals {
        duplicates: read.duplicates,
        ..Totals::default()
    };
    let with_history = read.staging.seal()?;
    let mut order: Vec<String> = read.conversations.keys().cloned().collect();
    order.extend(
        with_history
            .into_iter()
            .filter(|cid| !read.conversations.contains_key(cid)),
    );
    let total = order.len();
    let mut conversations = read.conversations;
    let mut in_flight: VecDeque<BoxFuture<'static, StoreResult<Imported>>> = VecDeque::new();
    let mut last_report = Instant::now();
    for cid in order {
        let messages = read.staging.history(&cid)?;
        let conv = match conversations.remove(&cid) {
            Some(conv) => conv,
            None => match store.conversation(&cid).await.map_err(|e| e.to_string())? {
                Some(conv) => conv,
                None => {
                    for m in &messages {
                        let reason = format!("no conversation {cid} in the input or the store");
                        unmapped.write(&reason, None, as_record(&cid, m))?;
                    }
                    continue;
                }
            },
        };
        in_flight.push_back(store.import(Import { conv, messages }));
        if in_flight.len() >= IN_FLIGHT {
            settle(in_flight.pop_front(), &mut totals).await?;
        }
        if last_report.elapsed() >= PROGRESS_EVERY {
            last_report = Instant::now();
            eprintln!(
                "imported {} of {total} conversations, {} messages",
                totals.conversations, totals.messages
            );
        }
    }
    while let Some(next) = in_flight.pop_front() {
        settle(Some(next), &mut totals).await?;
    }
    unmapped.finish()?;
    totals.unmapped = unmapped.count;
    Ok(totals)
}

async fn settle(
    next: Option<BoxFuture<'static, StoreResult<Imported>>>,
    totals: &mut Totals,
) -> Result<(), String> {
    let Some(next) = next else { return Ok(()) };
    let done = next
        .await
        .map_err(|e| format!("the store refused the import: {e}"))?;
    totals.conversations += 1;
    totals.created += usize::from(done.created);
    totals.messages += done.messages;
    totals.duplicates += done.duplicates;
    Ok(())
}
