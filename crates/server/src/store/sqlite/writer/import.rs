//! `import`: an exported conversation and its history merged into the data file.

use std::collections::HashSet;
use std::sync::Arc;

use rusqlite::{params, OptionalExtension};

use super::Writer;
use crate::store::sqlite::cursor::Cursor;
use crate::store::sqlite::rows::{self, message_key, MAX_SEQ};
use crate::store::{backend, Import, Imported, ImportedMessage, StoreResult};

/// A message row as import moves it: where it was (`None`: imported now) and what it
/// holds.
struct Row {
    old_seq: Option<i64>,
    msg: ImportedMessage,
    receipt: bool,
}

impl Writer {
    /// See [`crate::store::Store::import`].
    pub fn import(&mut self, import: Import) -> StoreResult<Imported> {
        let Import { conv, messages } = import;
        let mut out = Imported::default();
        if self.entry(&conv.id)?.is_none() {
            self.insert_conversation(&conv)?;
            out.created = true;
        }
        let Some(entry) = self.entry(&conv.id)? else {
            return Err(backend("the imported conversation vanished"));
        };
        let (num, last_seq, stored) = (entry.num, entry.last_seq, entry.conv.clone());
        let fresh = self.fresh(messages, &mut out)?;
        let Some(first) = fresh.first() else {
            return Ok(out);
        };
        if last_seq + fresh.len() as i64 > MAX_SEQ {
            return Err(backend(
                "the conversation would hold more messages than it can",
            ));
        }
        let appends = last_seq == 0 || first.timestamp >= self.timestamp_of(num, last_seq)?;
        let merged = if appends {
            fresh
                .into_iter()
                .map(|msg| Row {
                    old_seq: None,
                    msg,
                    receipt: false,
                })
                .collect()
        } else {
            self.merge(num, last_seq, fresh)?
        };
        // Appending keeps every stored seq; merging rewrites the conversation's range.
        let base = if appends { last_seq } else { 0 };
        if !appends {
            let cleared = self
                .conn
                .prepare_cached("DELETE FROM messages WHERE key > ?1 AND key <= ?2")
                .and_then(|mut st| {
                    st.execute(params![message_key(num, 0), message_key(num, MAX_SEQ)])
                });
            self.check(cleared)?;
        }
        // Where each stored seq is now.
        let mut moved: Vec<i64> = (0..=last_seq).collect();
        for (i, row) in merged.iter().enumerate() {
            let seq = base + 1 + i as i64;
            if let Some(old) = row.old_seq {
                moved[old as usize] = seq;
            }
            self.insert(num, seq, row)?;
        }
        let new_last = base + merged.len() as i64;
        if !stored.transient {
            for member in &stored.members {
                self.carry_cursor(num, member, last_seq, &moved, new_last)?;
            }
        }
        let last_ts = merged.iter().map(|r| r.msg.timestamp).max().unwrap_or(0);
        let lm = stored.last_message_at.map_or(last_ts, |lm| lm.max(last_ts));
        if let Some(entry) = self.convs.get_mut(conv.id.as_str()) {
            entry.last_seq = new_last;
            entry.conv.last_message_at = Some(lm);
            entry.first_acks = Cursor::new(0);
        }
        self.batch
            .heads
            .insert(Arc::from(conv.id.as_str()), (num, Some(lm), new_last));
        out.messages = merged.iter().filter(|r| r.old_seq.is_none()).count();
        Ok(out)
    }

    /// The messages whose id is neither stored nor given earlier in `messages`.
    fn fresh(
        &mut self,
        messages: Vec<ImportedMessage>,
        out: &mut Imported,
    ) -> StoreResult<Vec<ImportedMessage>> {
        let mut seen = HashSet::new();
        let mut fresh = Vec::with_capacity(messages.len());
        for msg in messages {
            let stored = self
                .conn
                .prepare_cached(r#"SELECT 1 FROM messages WHERE "msgId" = ?1"#)
                .and_then(|mut st| st.query_row([&msg.id], |_| Ok(())).optional());
            if self.check(stored)?.is_some() || !seen.insert(msg.id.clone()) {
                out.duplicates += 1;
            } else {
                fresh.push(msg);
            }
        }
        fresh.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
        Ok(fresh)
    }

    fn timestamp_of(&mut self, num: i64, seq: i64) -> StoreResult<i64> {
        let ts = self
            .conn
            .prepare_cached("SELECT timestamp FROM messages WHERE key = ?1")
            .and_then(|mut st| st.query_row([message_key(num, seq)], |r| r.get(0)));
        self.check(ts)
    }

    /// The stored history of `num` and `fresh`, in timestamp order (stored messages
    /// first among equals, so their order is kept).
    fn merge(
        &mut self,
        num: i64,
        last_seq: i64,
        fresh: Vec<ImportedMessage>,
    ) -> StoreResult<Vec<Row>> {
        let stored = self
            .conn
            .prepare_cached(
                r#"SELECT key, "msgId", "from", data, timestamp, "ackAt", receipt, meta
                   FROM messages WHERE key > ?1 AND key <= ?2 ORDER BY key"#,
            )
            .and_then(|mut st| {
                st.query_map(
                    params![message_key(num, 0), message_key(num, last_seq)],
                    |r| {
                        Ok(Row {
                            old_seq: Some(rows::key_seq(r.get(0)?)),
                            msg: ImportedMessage {
                                id: r.get(1)?,
                                from: r.get(2)?,
                                data: r.get(3)?,
                                timestamp: r.get(4)?,
                                ack_at: r.get(5)?,
                                meta: r.get(7)?,
                            },
                            receipt: r.get(6)?,
                        })
                    },
                )?
                .collect::<rusqlite::Result<Vec<Row>>>()
            });
        let mut rows = self.check(stored)?;
        rows.extend(fresh.into_iter().map(|msg| Row {
            old_seq: None,
            msg,
            receipt: false,
        }));
        rows.sort_by_key(|r| (r.msg.timestamp, r.old_seq.is_none()));
        Ok(rows)
    }

    fn insert(&mut self, num: i64, seq: i64, row: &Row) -> StoreResult<()> {
        let m = &row.msg;
        let inserted = self
            .conn
            .prepare_cached(
                r#"INSERT INTO messages (key, "msgId", "from", data, timestamp, "ackAt", receipt, meta)
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"#,
            )
            .and_then(|mut st| {
                st.execute(params![
                    message_key(num, seq),
                    m.id,
                    m.from,
                    m.data,
                    m.timestamp,
                    m.ack_at,
                    row.receipt,
                    m.meta
                ])
            });
        self.check(inserted).map(drop)
    }

    /// Rebuilds `member`'s cursor after the history moved: every message it was owed
    /// (stored seq `s` at `moved[s]`) stays owed, everything else is delivered.
    fn carry_cursor(
        &mut self,
        num: i64,
        member: &str,
        last_seq: i64,
        moved: &[i64],
        new_last: i64,
    ) -> StoreResult<()> {
        let client: Arc<str> = Arc::from(member);
        let Some(cursor) = self.cursor(num, &client)? else {
            return Ok(());
        };
        let mut owed: Vec<i64> = (cursor.acked() + 1..=last_seq)
            .filter(|&s| !cursor.has(s))
            .map(|s| moved[s as usize])
            .collect();
        owed.sort_unstable();
        *cursor = Cursor::from_pending(&owed, new_last);
        self.batch.cursors.insert((num, client), true);
        Ok(())
    }
}
