//! `leanrt-server export`: an app's conversations and message history, pulled from
//! LeanCloud's REST API into a directory that `import` reads.
//!
//! Layout (see `docs/migrating.md`):
//! - `_Conversation.jsonl`: every `_Conversation` row, as the scan API gave it;
//! - `messages/000001.jsonl`, …: history records as the v1.2 API gave them, newest
//!   first, at most 100 000 per file;
//! - `export-state.json`: the checkpoint (no credentials).

mod api;
mod progress;
mod state;

use std::path::PathBuf;

use serde_json::Value;

use self::api::{Api, Failure};
use self::progress::{Progress, Snapshot};
pub use self::state::STATE_FILE;
use self::state::{ExportDir, Mode, Start, CONVERSATIONS_FILE};

/// Records asked for per page (LeanCloud's maximum for scans and history).
const PAGE: usize = 1000;

/// What `export` is told.
pub struct Options {
    pub api: String,
    pub app_id: String,
    pub master_key: String,
    pub out: PathBuf,
    /// Requests per second.
    pub rate: f64,
}

/// What the export holds when it ends.
#[derive(Debug, PartialEq, Eq)]
pub struct Totals {
    pub conversations: u64,
    pub messages: u64,
    pub pages: u64,
    pub skipped: Vec<String>,
}

struct Export {
    api: Api,
    dir: ExportDir,
    progress: Progress,
}

fn results(page: &Value, what: &str) -> Result<Vec<Value>, String> {
    page.get("results")
        .and_then(Value::as_array)
        .or_else(|| page.as_array())
        .cloned()
        .ok_or_else(|| format!("{what}: the reply holds no records: {page}"))
}

/// Runs (or resumes) the export described by `options`.
pub fn run(options: &Options) -> Result<Totals, String> {
    let api = options.api.trim_end_matches('/');
    let dir = ExportDir::open(&options.out, api, &options.app_id)?;
    let before = dir.state.conversations.count + dir.state.messages.count;
    let mut export = Export {
        api: Api::new(api, &options.app_id, &options.master_key, options.rate)?,
        dir,
        progress: Progress::new(before),
    };
    if before > 0 {
        export
            .progress
            .say(&format!("resuming the export in {}", options.out.display()));
    }
    export.conversations()?;
    export.messages()?;
    let s = &export.dir.state;
    Ok(Totals {
        conversations: s.conversations.count,
        messages: s.messages.count,
        pages: s.conversations.pages + s.messages.pages,
        skipped: s.messages.skipped.clone(),
    })
}

impl Export {
    fn snapshot(&self) -> Snapshot {
        let s = &self.dir.state;
        let fraction = if !s.conversations.done {
            s.conversations
                .total
                .filter(|t| *t > 0)
                .map(|t| s.conversations.count as f64 / t as f64)
        } else {
            match (
                s.messages.mode,
                s.messages.newest,
                s.messages.oldest,
                &s.messages.start,
            ) {
                (Some(Mode::App), Some(newest), Some(oldest), Some(at)) if newest > oldest => {
                    Some((newest - at.timestamp) as f64 / (newest - oldest) as f64)
                }
                (Some(Mode::Conversations), ..) => {
                    Some(s.messages.conversation as f64 / s.conversations.count.max(1) as f64)
                }
                _ => None,
            }
        };
        Snapshot {
            conversations: s.conversations.count,
            messages: s.messages.count,
            pages: s.conversations.pages + s.messages.pages,
            fraction,
        }
    }

    fn show(&mut self) {
        let snapshot = self.snapshot();
        self.progress.update(&snapshot);
    }

    /// Every `_Conversation` row, by the scan API.
    fn conversations(&mut self) -> Result<(), String> {
        if self.dir.state.conversations.done {
            return Ok(());
        }
        if self.dir.state.conversations.total.is_none() {
            let count = self.api.get(
                "/1.1/classes/_Conversation",
                &[("count", "1".into()), ("limit", "0".into())],
            );
            self.dir.state.conversations.total = match count {
                Ok(v) => v.get("count").and_then(Value::as_u64),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Refused { .. }) => None,
            };
        }
        self.progress.say("exporting _Conversation");
        loop {
            let c = &self.dir.state.conversations;
            let mut query = vec![("limit", PAGE.to_string())];
            if let Some(cursor) = &c.cursor {
                query.push(("cursor", cursor.clone()));
            }
            let page = match self.api.get("/1.1/scan/classes/_Conversation", &query) {
                Ok(page) => page,
                Err(Failure::Refused { status, body }) if c.cursor.is_some() => {
                    // Scan cursors expire after 10 minutes: scan again, skipping
                    // what was written (the scan goes in objectId order).
                    self.progress.say(&format!(
                        "the scan cursor was refused (HTTP {status}: {body}); scanning again from the start"
                    ));
                    self.dir.state.conversations.cursor = None;
                    continue;
                }
                Err(e @ Failure::Refused { .. }) => {
                    return Err(format!(
                        "scanning _Conversation: {e}; check --api (the app's API domain) and that the key is the master key"
                    ))
                }
                Err(Failure::Fatal(e)) => return Err(format!("scanning _Conversation: {e}")),
            };
            let rows = results(&page, "scanning _Conversation")?;
            let last_id = self.dir.state.conversations.last_id.clone();
            let fresh: Vec<Value> = rows
                .into_iter()
                .filter(|r| {
                    let id = r.get("objectId").and_then(Value::as_str).unwrap_or("");
                    last_id.as_deref().is_none_or(|last| id > last)
                })
                .collect();
            self.dir.append_conversations(&fresh)?;
            let c = &mut self.dir.state.conversations;
            c.count += fresh.len() as u64;
            c.pages += 1;
            if let Some(id) = fresh
                .last()
                .and_then(|r| r.get("objectId"))
                .and_then(Value::as_str)
            {
                c.last_id = Some(id.to_owned());
            }
            c.cursor = page
                .get("cursor")
                .and_then(Value::as_str)
                .map(str::to_owned);
            c.done = c.cursor.is_none();
            self.dir.checkpoint()?;
            self.show();
            if self.dir.state.conversations.done {
                break;
            }
        }
        let count = self.dir.state.conversations.count;
        self.progress
            .say(&format!("exported {count} conversations"));
        Ok(())
    }

    /// All history: the app-wide endpoint, or per conversation where that fails.
    fn messages(&mut self) -> Result<(), String> {
        if self.dir.state.messages.done {
            return Ok(());
        }
        if self.dir.state.messages.mode.is_none() {
            let probe = self.api.get("/1.2/rtm/messages", &[("limit", "1".into())]);
            let mode = match probe {
                Ok(page) => {
                    let newest = results(&page, "/1.2/rtm/messages")?;
                    let oldest = self.api.get(
                        "/1.2/rtm/messages",
                        &[("limit", "1".into()), ("reversed", "true".into())],
                    );
                    let m = &mut self.dir.state.messages;
                    m.newest = newest
                        .first()
                        .and_then(|r| r.get("timestamp"))
                        .and_then(Value::as_i64);
                    m.oldest = oldest
                        .ok()
                        .and_then(|p| results(&p, "").ok())
                        .and_then(|r| {
                            r.first()
                                .and_then(|r| r.get("timestamp"))
                                .and_then(Value::as_i64)
                        });
                    Mode::App
                }
                Err(Failure::Refused { status, body }) => {
                    self.progress.say(&format!(
                        "the app-wide history endpoint refused (HTTP {status}: {body}); reading history per conversation"
                    ));
                    Mode::Conversations
                }
                Err(Failure::Fatal(e)) => return Err(e),
            };
            self.dir.state.messages.mode = Some(mode);
            self.dir.checkpoint()?;
        }
        self.progress.say("exporting message history");
        match self.dir.state.messages.mode {
            Some(Mode::Conversations) => self.history_per_conversation()?,
            _ => loop {
                match self.history_page("/1.2/rtm/messages") {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(e) => return Err(format!("/1.2/rtm/messages: {e}")),
                }
            },
        }
        self.dir.state.messages.done = true;
        self.dir.state.messages.start = None;
        self.dir.checkpoint()?;
        let count = self.dir.state.messages.count;
        self.progress.say(&format!("exported {count} messages"));
        Ok(())
    }

    /// One page of `path` from the checkpointed start; true when it was the last.
    fn history_page(&mut self, path: &str) -> Result<bool, Failure> {
        let mut query = vec![("limit", PAGE.to_string())];
        if let Some(start) = &self.dir.state.messages.start {
            query.push(("timestamp", start.timestamp.to_string()));
            query.push(("msgid", start.msgid.clone()));
        }
        let page = self.api.get(path, &query)?;
        let records = results(&page, path).map_err(Failure::Fatal)?;
        self.dir.append_messages(&records).map_err(Failure::Fatal)?;
        let m = &mut self.dir.state.messages;
        m.count += records.len() as u64;
        m.pages += 1;
        if let Some(last) = records.last() {
            let timestamp = last.get("timestamp").and_then(Value::as_i64);
            let msgid = last.get("msg-id").and_then(Value::as_str);
            let (Some(timestamp), Some(msgid)) = (timestamp, msgid) else {
                return Err(Failure::Fatal(format!(
                    "{path}: a record without timestamp or msg-id: {last}"
                )));
            };
            m.start = Some(Start {
                timestamp,
                msgid: msgid.to_owned(),
            });
        }
        let last_page = records.len() < PAGE;
        self.dir.checkpoint().map_err(Failure::Fatal)?;
        self.show();
        Ok(last_page)
    }

    /// The conversations file's ids, with the history endpoint of each (none for
    /// system conversations, whose history is per subscriber).
    fn exported_conversations(&self) -> Result<Vec<(String, Option<&'static str>)>, String> {
        let path = self.dir.path(CONVERSATIONS_FILE);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let row: Value =
                serde_json::from_str(line).map_err(|e| format!("{}: {e}", path.display()))?;
            let id = row
                .get("objectId")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let kind = if row.get("sys") == Some(&Value::Bool(true)) {
                None
            } else if row.get("tr") == Some(&Value::Bool(true)) {
                Some("chatrooms")
            } else {
                Some("conversations")
            };
            out.push((id, kind));
        }
        Ok(out)
    }

    fn history_per_conversation(&mut self) -> Result<(), String> {
        let all = self.exported_conversations()?;
        while let Some((id, kind)) = all.get(self.dir.state.messages.conversation).cloned() {
            let read = match kind {
                None => Err("a system conversation".to_owned()),
                Some(kind) => {
                    let path = format!("/1.2/rtm/{kind}/{id}/messages");
                    loop {
                        match self.history_page(&path) {
                            Ok(true) => break Ok(()),
                            Ok(false) => {}
                            Err(refused @ Failure::Refused { .. }) => {
                                break Err(refused.to_string())
                            }
                            Err(Failure::Fatal(e)) => return Err(format!("{path}: {e}")),
                        }
                    }
                }
            };
            let m = &mut self.dir.state.messages;
            if let Err(reason) = read {
                self.progress
                    .say(&format!("history of {id} not exported: {reason}"));
                m.skipped.push(id);
            }
            m.conversation += 1;
            m.start = None;
            self.dir.checkpoint()?;
        }
        Ok(())
    }
}
