//! The export directory: its JSON Lines files and the checkpoint that says how much
//! of each is complete. A page is appended, the files synced, then the checkpoint
//! replaced atomically; a resumed export cuts every file back to its checkpointed
//! length, so a page is never written twice nor skipped.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The checkpoint's file name in the export directory.
pub const STATE_FILE: &str = "export-state.json";
/// The conversations file.
pub const CONVERSATIONS_FILE: &str = "_Conversation.jsonl";
/// History records per `messages/NNNNNN.jsonl` file, so that no file grows huge.
const PART_RECORDS: u64 = 100_000;
/// This layout's version.
const VERSION: u32 = 1;

/// Where the history export goes on from: the last record written.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Start {
    pub timestamp: i64,
    pub msgid: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversations {
    pub done: bool,
    pub count: u64,
    pub pages: u64,
    /// The scan cursor of the next page (valid 10 minutes on LeanCloud).
    pub cursor: Option<String>,
    /// The last objectId written (the scan is in objectId order).
    pub last_id: Option<String>,
    /// The app's conversation count, when LeanCloud told it.
    pub total: Option<u64>,
}

/// How history is paged: the app-wide endpoint, or one conversation at a time.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    App,
    Conversations,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Messages {
    pub done: bool,
    pub mode: Option<Mode>,
    pub count: u64,
    pub pages: u64,
    pub start: Option<Start>,
    /// Newest and oldest message times, for the time-left estimate (app mode).
    pub newest: Option<i64>,
    pub oldest: Option<i64>,
    /// Conversation mode: the index, in `_Conversation.jsonl`, of the one being read.
    pub conversation: usize,
    /// Conversations whose history was not read (system conversations, refusals).
    pub skipped: Vec<String>,
    part: u32,
    part_records: u64,
}

/// The checkpoint.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub version: u32,
    pub api: String,
    pub app_id: String,
    pub conversations: Conversations,
    pub messages: Messages,
    /// Complete length of every file, by path relative to the directory.
    files: BTreeMap<String, u64>,
}

/// An export directory being written.
pub struct ExportDir {
    dir: PathBuf,
    pub state: State,
    /// Files opened by this run (each cut back to its checkpoint when opened).
    open: BTreeMap<String, File>,
}

fn io(path: &Path, e: std::io::Error) -> String {
    format!("{}: {e}", path.display())
}

impl ExportDir {
    /// Opens `dir` (creating it), resuming the export it holds; it must be of the
    /// same app and API.
    pub fn open(dir: &Path, api: &str, app_id: &str) -> Result<ExportDir, String> {
        std::fs::create_dir_all(dir.join("messages")).map_err(|e| io(dir, e))?;
        let path = dir.join(STATE_FILE);
        let state = match std::fs::read(&path) {
            Ok(bytes) => {
                let state: State = serde_json::from_slice(&bytes)
                    .map_err(|e| format!("{}: not an export checkpoint ({e})", path.display()))?;
                if state.version != VERSION {
                    return Err(format!(
                        "{}: layout version {} (this build writes {VERSION})",
                        path.display(),
                        state.version
                    ));
                }
                if state.app_id != app_id || state.api != api {
                    return Err(format!(
                        "{} holds an export of app {} from {}; use another --out",
                        dir.display(),
                        state.app_id,
                        state.api
                    ));
                }
                state
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State {
                version: VERSION,
                api: api.to_owned(),
                app_id: app_id.to_owned(),
                ..State::default()
            },
            Err(e) => return Err(io(&path, e)),
        };
        Ok(ExportDir {
            dir: dir.to_owned(),
            state,
            open: BTreeMap::new(),
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The file for history records now.
    fn messages_file(&mut self) -> String {
        let m = &mut self.state.messages;
        if m.part == 0 || m.part_records >= PART_RECORDS {
            m.part += 1;
            m.part_records = 0;
        }
        format!("messages/{:06}.jsonl", m.part)
    }

    /// Appends `records` to `name`, one JSON line each (not yet checkpointed).
    fn append(&mut self, name: &str, records: &[Value]) -> Result<(), String> {
        let path = self.dir.join(name);
        if !self.open.contains_key(name) {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| io(&path, e))?;
            let complete = self.state.files.get(name).copied().unwrap_or(0);
            file.set_len(complete).map_err(|e| io(&path, e))?;
            self.open.insert(name.to_owned(), file);
        }
        let mut text = String::new();
        for r in records {
            text.push_str(&r.to_string());
            text.push('\n');
        }
        let file = self.open.get_mut(name).ok_or("file closed")?;
        let mut end = self.state.files.get(name).copied().unwrap_or(0);
        use std::io::{Seek, SeekFrom};
        file.seek(SeekFrom::Start(end)).map_err(|e| io(&path, e))?;
        file.write_all(text.as_bytes()).map_err(|e| io(&path, e))?;
        end += text.len() as u64;
        self.state.files.insert(name.to_owned(), end);
        Ok(())
    }

    pub fn append_conversations(&mut self, rows: &[Value]) -> Result<(), String> {
        self.append(CONVERSATIONS_FILE, rows)
    }

    pub fn append_messages(&mut self, records: &[Value]) -> Result<(), String> {
        let name = self.messages_file();
        self.append(&name, records)?;
        self.state.messages.part_records += records.len() as u64;
        Ok(())
    }

    /// Makes everything appended so far durable, then the checkpoint saying so.
    pub fn checkpoint(&mut self) -> Result<(), String> {
        for (name, file) in &self.open {
            file.sync_data().map_err(|e| io(&self.dir.join(name), e))?;
        }
        let path = self.dir.join(STATE_FILE);
        let tmp = self.dir.join(format!("{STATE_FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(&self.state).map_err(|e| e.to_string())?;
        let mut file = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}
