//! `import`: an exported conversation and its history merged into the data file.

use std::collections::HashSet;
use std::sync::Arc;

use rusqlite::{params, OptionalExtension};

use super::Writer;
use crate::store::cursor::Cursor;
use crate::store::sequence::{self, Row, MAX_SEQ};
use crate::store::sqlite::rows::{self, message_key, FULL_MSG_COLUMNS};
use crate::store::{backend, Import, Imported, ImportedMessage, StoreResult};

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
        sequence::room_for(last_seq, fresh.len())?;
        let appends = last_seq == 0 || first.timestamp >= self.timestamp_of(num, last_seq)?;
        let merged = if appends {
            sequence::appended(fresh)
        } else {
            sequence::merged(self.stored_rows(num, last_seq)?, fresh)
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
        let moved = sequence::moved(&merged, last_seq, base);
        for (i, row) in merged.iter().enumerate() {
            self.insert(num, base + 1 + i as i64, row)?;
        }
        let new_last = base + merged.len() as i64;
        if !stored.transient {
            for member in &stored.members {
                self.carry_cursor(num, member, last_seq, &moved, new_last)?;
            }
        }
        let lm = sequence::last_time(&merged, stored.last_message_at);
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
        let mut stored = HashSet::new();
        for msg in &messages {
            let found = self
                .conn
                .prepare_cached(r#"SELECT 1 FROM messages WHERE "msgId" = ?1"#)
                .and_then(|mut st| st.query_row([&msg.id], |_| Ok(())).optional());
            if self.check(found)?.is_some() {
                stored.insert(msg.id.clone());
            }
        }
        Ok(sequence::fresh(messages, &stored, out))
    }

    fn timestamp_of(&mut self, num: i64, seq: i64) -> StoreResult<i64> {
        let ts = self
            .conn
            .prepare_cached("SELECT timestamp FROM messages WHERE key = ?1")
            .and_then(|mut st| st.query_row([message_key(num, seq)], |r| r.get(0)));
        self.check(ts)
    }

    /// The stored history of `num`, oldest first.
    fn stored_rows(&mut self, num: i64, last_seq: i64) -> StoreResult<Vec<Row>> {
        let stored = self
            .conn
            .prepare_cached(&format!(
                "SELECT {FULL_MSG_COLUMNS} FROM messages WHERE key > ?1 AND key <= ?2 ORDER BY key"
            ))
            .and_then(|mut st| {
                st.query_map(
                    params![message_key(num, 0), message_key(num, last_seq)],
                    |r| {
                        let (key, msg, receipt) = rows::full_message_from_row(r)?;
                        Ok(Row {
                            old_seq: Some(rows::key_seq(key)),
                            msg,
                            receipt,
                        })
                    },
                )?
                .collect::<rusqlite::Result<Vec<Row>>>()
            });
        self.check(stored)
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
        *cursor = cursor.carried(last_seq, moved, new_last);
        self.batch.cursors.insert((num, client), true);
        Ok(())
    }
}
