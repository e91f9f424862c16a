//! `patch`: a stored message's content replaced (modified or recalled) by its sender;
//! the time of the change (`patchTimestamp`) and the new content's mentions and `bin`
//! replace those in the message's `meta`.

use rusqlite::{params, OptionalExtension};

use super::Writer;
use crate::domain::Refusal;
use crate::store::sqlite::rows::{message_key, MAX_SEQ};
use crate::store::{MessagePatch, StoreResult};

impl Writer {
    /// See [`crate::store::Store::patch`].
    pub fn patch(&mut self, p: MessagePatch) -> StoreResult<i64> {
        let Some(entry) = self.entry(&p.cid)? else {
            return Err(Refusal::NotFound.into());
        };
        let num = entry.num;
        let found = self
            .conn
            .prepare_cached(
                r#"SELECT key, "from", timestamp FROM messages
                   WHERE key BETWEEN ?1 AND ?2 AND "msgId" = ?3"#,
            )
            .and_then(|mut st| {
                let range = params![message_key(num, 0), message_key(num, MAX_SEQ), p.mid];
                st.query_row(range, |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get(2)?))
                })
                .optional()
            });
        let Some((key, from, timestamp)) = self.check(found)? else {
            return Err(Refusal::NotFound.into());
        };
        if from != p.by {
            let why = "only its sender may change a message";
            return Err(Refusal::Invalid(why.into()).into());
        }
        let r = self
            .conn
            .prepare_cached(
                r#"UPDATE messages SET data = ?2,
                   meta = json_patch(json_remove(coalesce(meta, '{}'),
                                                 '$.mentionPids', '$.mentionAll', '$.bin'), ?3)
                   WHERE key = ?1"#,
            )
            .and_then(|mut st| st.execute(params![key, p.data, p.meta()]));
        self.check(r)?;
        Ok(timestamp)
    }
}
