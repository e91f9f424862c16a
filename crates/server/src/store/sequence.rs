//! How a new message joins a conversation's history, and how an import merges
//! exported messages into it: the rules every backend applies under its lock on
//! the conversation.

use std::collections::HashSet;
use std::sync::Arc;

use super::cursor::Cursor;
use super::{backend, Committed, Imported, ImportedMessage, StoreResult};
use crate::domain::{Conversation, NewMessage, StoredMessage};

/// Highest seq a conversation can hold (32 bits, so that data moves between the
/// backends both ways).
pub const MAX_SEQ: i64 = (1 << 32) - 1;

/// `msg` as stored after seq `last_seq` of `conv`: the next seq, its timestamp
/// raised to the conversation's last one, and what the commit stream carries.
pub fn next_message(
    msg: NewMessage,
    conv: &Conversation,
    members: Arc<[String]>,
    last_seq: i64,
) -> StoreResult<Committed> {
    if last_seq >= MAX_SEQ {
        return Err(backend("the conversation holds the most messages it can"));
    }
    let timestamp = conv
        .last_message_at
        .map_or(msg.timestamp, |lm| lm.max(msg.timestamp));
    let room = conv.transient;
    Ok(Committed {
        msg: Arc::new(StoredMessage {
            cid: Arc::from(msg.cid.as_str()),
            seq: last_seq + 1,
            id: msg.id,
            from: msg.from,
            data: msg.data,
            timestamp,
            ack_at: None,
            receipt: msg.receipt && !room,
            extras: msg.extras,
        }),
        members,
        room,
        origin: msg.origin,
    })
}

/// A message of an import's history: its seq before the import (`None`: imported
/// now), its content, and whether it asked for receipts.
pub struct Row {
    pub old_seq: Option<i64>,
    pub msg: ImportedMessage,
    pub receipt: bool,
}

/// The messages whose id is neither in `stored` nor given earlier in `messages`,
/// in timestamp order; the others are counted as duplicates.
pub fn fresh(
    messages: Vec<ImportedMessage>,
    stored: &HashSet<String>,
    out: &mut Imported,
) -> Vec<ImportedMessage> {
    let mut seen = HashSet::new();
    let mut fresh = Vec::with_capacity(messages.len());
    for msg in messages {
        if stored.contains(&msg.id) || !seen.insert(msg.id.clone()) {
            out.duplicates += 1;
        } else {
            fresh.push(msg);
        }
    }
    fresh.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
    fresh
}

/// Checks that `count` more messages fit after `last_seq`.
pub fn room_for(last_seq: i64, count: usize) -> StoreResult<()> {
    if last_seq + count as i64 > MAX_SEQ {
        return Err(backend(
            "the conversation would hold more messages than it can",
        ));
    }
    Ok(())
}

/// The imported messages as rows after the stored ones.
pub fn appended(fresh: Vec<ImportedMessage>) -> Vec<Row> {
    fresh
        .into_iter()
        .map(|msg| Row {
            old_seq: None,
            msg,
            receipt: false,
        })
        .collect()
}

/// The stored history and `fresh`, in timestamp order (stored messages first among
/// equals, so their order is kept).
pub fn merged(mut stored: Vec<Row>, fresh: Vec<ImportedMessage>) -> Vec<Row> {
    stored.extend(appended(fresh));
    stored.sort_by_key(|r| (r.msg.timestamp, r.old_seq.is_none()));
    stored
}

/// Where each stored seq up to `last_seq` is once `rows` take seqs from `base + 1`.
pub fn moved(rows: &[Row], last_seq: i64, base: i64) -> Vec<i64> {
    let mut moved: Vec<i64> = (0..=last_seq).collect();
    for (i, row) in rows.iter().enumerate() {
        if let Some(old) = row.old_seq {
            moved[old as usize] = base + 1 + i as i64;
        }
    }
    moved
}

/// The conversation's `lm` once `rows` are in.
pub fn last_time(rows: &[Row], lm: Option<i64>) -> i64 {
    let last = rows.iter().map(|r| r.msg.timestamp).max().unwrap_or(0);
    lm.map_or(last, |lm| lm.max(last))
}

impl Cursor {
    /// This cursor after the history moved (stored seq `s` is now `moved[s]`, up to
    /// `last_seq`; the last seq is now `new_last`): every message it was owed stays
    /// owed, everything else is delivered.
    pub fn carried(&self, last_seq: i64, moved: &[i64], new_last: i64) -> Cursor {
        let mut owed: Vec<i64> = (self.acked() + 1..=last_seq)
            .filter(|&s| !self.has(s))
            .map(|s| moved[s as usize])
            .collect();
        owed.sort_unstable();
        Cursor::from_pending(&owed, new_last)
    }
}
