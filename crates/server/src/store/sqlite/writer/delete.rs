//! `delete`: a conversation and everything kept for it (history, members, cursors,
//! the `attr` index), and whatever the writer remembers of it.

use rusqlite::params;

use super::Writer;
use crate::store::sqlite::rows::{message_key, MAX_SEQ};
use crate::store::StoreResult;

impl Writer {
    /// See [`crate::store::Store::delete`].
    pub fn delete(&mut self, cid: &str) -> StoreResult<bool> {
        let Some(entry) = self.entry(cid)? else {
            return Ok(false);
        };
        let num = entry.num;
        let conn = &self.conn;
        let delete = || -> rusqlite::Result<()> {
            conn.prepare_cached("DELETE FROM messages WHERE key BETWEEN ?1 AND ?2")?
                .execute(params![message_key(num, 0), message_key(num, MAX_SEQ)])?;
            for table in ["members", "acked_ranges", "conv_attrs"] {
                conn.prepare_cached(&format!("DELETE FROM {table} WHERE conv = ?1"))?
                    .execute([num])?;
            }
            conn.prepare_cached("DELETE FROM conversations WHERE num = ?1")?
                .execute([num])?;
            Ok(())
        };
        let r = delete();
        self.check(r)?;
        // The number may be given to a later conversation: forget it everywhere.
        self.convs.pop(cid);
        self.batch.heads.remove(cid);
        self.batch.cursors.retain(|(n, _), _| *n != num);
        let cached: Vec<_> = self
            .cursors
            .iter()
            .filter(|((n, _), _)| *n == num)
            .map(|(key, _)| key.clone())
            .collect();
        for key in cached {
            self.cursors.pop(&key);
        }
        self.batch.ack_at.retain(|(key, _)| key >> 32 != num);
        Ok(true)
    }
}
