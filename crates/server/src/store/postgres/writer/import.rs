//! `import`: an exported conversation and its history merged into the database (the
//! same rules as the SQLite store's).

use std::collections::HashSet;

use super::Tx;
use crate::store::postgres::errors::{pg, storable};
use crate::store::postgres::rows::{conv_storable, insert_messages};
use crate::store::sequence::{self, Row};
use crate::store::{backend, Import, Imported, ImportedMessage, StoreResult};

impl Tx<'_> {
    /// See [`crate::store::Store::import`].
    pub(super) async fn import(&mut self, import: Import) -> StoreResult<Imported> {
        let Import { conv, messages } = import;
        conv_storable(&conv)?;
        storable(
            messages
                .iter()
                .flat_map(|m| [m.id.as_str(), m.from.as_str()]),
        )?;
        self.flush_messages().await?;
        let mut out = Imported::default();
        if self.entry(&conv.id).await?.is_none() {
            if !self.insert_conversation(&conv).await? {
                return Err(backend("a unique conversation with these members exists"));
            }
            out.created = true;
        }
        let Some(entry) = self.entry(&conv.id).await? else {
            return Err(backend("the imported conversation vanished"));
        };
        let (num, last_seq, stored) = (entry.num, entry.last_seq, entry.conv.clone());
        let fresh = self.fresh(messages, &mut out).await?;
        let Some(first) = fresh.first() else {
            return Ok(out);
        };
        sequence::room_for(last_seq, fresh.len())?;
        let appends = last_seq == 0 || first.timestamp >= self.timestamp_of(num, last_seq).await?;
        let merged = if appends {
            sequence::appended(fresh)
        } else {
            sequence::merged(self.stored_rows(num, last_seq).await?, fresh)
        };
        // Appending keeps every stored seq; merging rewrites the conversation's range.
        let base = if appends { last_seq } else { 0 };
        if !appends {
            self.client
                .execute("DELETE FROM messages WHERE conv = $1", &[&num])
                .await
                .map_err(pg)?;
        }
        let moved = sequence::moved(&merged, last_seq, base);
        let rows: Vec<(i64, &ImportedMessage, bool)> = merged
            .iter()
            .enumerate()
            .map(|(i, r)| (base + 1 + i as i64, &r.msg, r.receipt))
            .collect();
        insert_messages(self.client, num, &rows).await.map_err(pg)?;
        let new_last = base + merged.len() as i64;
        if !stored.transient {
            self.carry_cursors(num, &stored.members, last_seq, &moved, new_last)
                .await?;
        }
        let lm = sequence::last_time(&merged, stored.last_message_at);
        if let Some(entry) = self.convs.get_mut(conv.id.as_str()) {
            entry.last_seq = new_last;
            entry.conv.last_message_at = Some(lm);
            entry.head = true;
        }
        out.messages = merged.iter().filter(|r| r.old_seq.is_none()).count();
        Ok(out)
    }

    /// The messages whose id is neither stored nor given earlier in `messages`, in
    /// timestamp order.
    async fn fresh(
        &mut self,
        messages: Vec<ImportedMessage>,
        out: &mut Imported,
    ) -> StoreResult<Vec<ImportedMessage>> {
        let ids: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
        let stored: HashSet<String> = self
            .client
            .query(
                r#"SELECT "msgId" FROM messages WHERE "msgId" = ANY($1)"#,
                &[&ids],
            )
            .await
            .map_err(pg)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(sequence::fresh(messages, &stored, out))
    }

    async fn timestamp_of(&mut self, num: i64, seq: i64) -> StoreResult<i64> {
        let row = self
            .client
            .query_one(
                "SELECT timestamp FROM messages WHERE conv = $1 AND seq = $2",
                &[&num, &seq],
            )
            .await
            .map_err(pg)?;
        Ok(row.get(0))
    }

    /// The stored history of `num`, oldest first.
    async fn stored_rows(&mut self, num: i64, last_seq: i64) -> StoreResult<Vec<Row>> {
        let stored = self
            .client
            .query(
                r#"SELECT seq, "msgId", "from", data, timestamp, "ackAt", receipt, meta
                   FROM messages WHERE conv = $1 AND seq <= $2 ORDER BY seq"#,
                &[&num, &last_seq],
            )
            .await
            .map_err(pg)?;
        Ok(stored
            .iter()
            .map(|r| Row {
                old_seq: Some(r.get(0)),
                msg: ImportedMessage {
                    id: r.get(1),
                    from: r.get(2),
                    data: String::from_utf8_lossy(r.get::<_, &[u8]>(3)).into_owned(),
                    timestamp: r.get(4),
                    ack_at: r.get(5),
                    meta: r.get(7),
                },
                receipt: r.get(6),
            })
            .collect())
    }

    /// Rebuilds the members' cursors after the history moved: every message a member
    /// was owed (stored seq `s` at `moved[s]`) stays owed, everything else is
    /// delivered.
    async fn carry_cursors(
        &mut self,
        num: i64,
        members: &[String],
        last_seq: i64,
        moved: &[i64],
        new_last: i64,
    ) -> StoreResult<()> {
        let keys: Vec<(i64, &str)> = members.iter().map(|m| (num, m.as_str())).collect();
        self.read_cursors(&keys).await?;
        for slot in self
            .cursors
            .iter_mut()
            .filter(|((n, _), _)| *n == num)
            .filter_map(|(_, slot)| slot.as_mut())
        {
            slot.cursor = slot.cursor.carried(last_seq, moved, new_last);
            slot.dirty = true;
        }
        Ok(())
    }
}
