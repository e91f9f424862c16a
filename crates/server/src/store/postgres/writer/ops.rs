//! The operations a batch runs, each under the locks of the conversations it names.

use std::sync::Arc;

use super::{Entry, Op, Output, Tx};
use crate::domain::{Conversation, NewMessage, Refusal, StoredMessage};
use crate::store::postgres::errors::{pg, storable};
use crate::store::postgres::rows::{conv_storable, Record, INSERT_CONV, UPDATE_CONV};
use crate::store::sequence::next_message;
use crate::store::{backend, Admit, Change, MessagePatch, StoreResult};

impl Tx<'_> {
    pub(super) async fn run(&mut self, op: Op) -> StoreResult<Output> {
        match op {
            Op::Create(conv) => {
                let (conv, created) = self.create(conv).await?;
                Ok(Output::Created(conv, created))
            }
            Op::Modify(cid, change) => {
                let (conv, concerned) = self.modify(&cid, change).await?;
                Ok(Output::Modified(conv, concerned))
            }
            Op::Append(msg, admit) => self.append(msg, admit).await.map(Output::Appended),
            Op::Patch(p) => self.patch(p).await.map(Output::Patched),
            Op::Delete(cid) => self.delete(&cid).await.map(Output::Deleted),
            Op::Import(import) => self.import(import).await.map(Output::Imported),
            Op::Settle => Ok(Output::Settled),
        }
    }

    /// `create`: inserts `conv`, or finds the unique conversation with its key (also
    /// when another node inserted it a moment ago).
    async fn create(&mut self, conv: Conversation) -> StoreResult<(Conversation, bool)> {
        conv_storable(&conv)?;
        if let Some(found) = self.unique_twin(&conv).await? {
            return Ok((found, false));
        }
        if self.insert_conversation(&conv).await? {
            return Ok((conv, true));
        }
        match self.unique_twin(&conv).await? {
            Some(found) => Ok((found, false)),
            None => Err(backend("the conversation id is taken")),
        }
    }

    /// The stored unique conversation with `conv`'s key, if `conv` is unique.
    async fn unique_twin(&mut self, conv: &Conversation) -> StoreResult<Option<Conversation>> {
        let Some(key) = conv.unique_key.as_deref().filter(|_| conv.unique) else {
            return Ok(None);
        };
        let row = self
            .client
            .query_opt(
                r#"SELECT "objectId" FROM conversations WHERE unique_key = $1 AND "unique""#,
                &[&key],
            )
            .await
            .map_err(pg)?;
        let Some(cid) = row.map(|r| r.get::<_, String>(0)) else {
            return Ok(None);
        };
        Ok(self.entry(&cid).await?.map(|e| e.conv.clone()))
    }

    /// Inserts a new conversation with its members' cursors at 0; false when its id
    /// or unique key is taken.
    pub(super) async fn insert_conversation(&mut self, conv: &Conversation) -> StoreResult<bool> {
        let record = Record::of(conv);
        let row = self
            .client
            .query_opt(INSERT_CONV, &record.params(&conv.id))
            .await
            .map_err(pg)?;
        let Some(num) = row.map(|r| r.get::<_, i64>(0)) else {
            return Ok(false);
        };
        self.add_member_rows(num, &conv.members, 0).await?;
        self.convs.insert(
            conv.id.clone(),
            Entry {
                num,
                members: Arc::from(conv.members.clone()),
                conv: conv.clone(),
                last_seq: 0,
                head: false,
            },
        );
        Ok(true)
    }

    async fn add_member_rows(&mut self, num: i64, ids: &[String], acked: i64) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.client
            .execute(
                "INSERT INTO members (conv, client_id, acked)
                 SELECT $1, id, $3 FROM unnest($2::text[]) AS id
                 ON CONFLICT (conv, client_id) DO UPDATE SET acked = excluded.acked, ranges = '[]'",
                &[&num, &ids, &acked],
            )
            .await
            .map_err(pg)?;
        for id in ids {
            self.forget_cursor(num, id);
        }
        Ok(())
    }

    /// `modify`: applies `change`; added members start at the last seq, removed
    /// members lose their cursor.
    async fn modify(
        &mut self,
        cid: &str,
        change: Change,
    ) -> StoreResult<(Conversation, Vec<String>)> {
        let Some(entry) = self.entry(cid).await? else {
            return Err(Refusal::NotFound.into());
        };
        let (num, last_seq, before) = (entry.num, entry.last_seq, entry.conv.clone());
        let mut conv = before.clone();
        let concerned = change(&mut conv)?;
        conv_storable(&conv)?;
        let (added, removed) = before.member_changes(&conv);
        self.add_member_rows(num, &added, last_seq).await?;
        if !removed.is_empty() {
            self.client
                .execute(
                    "DELETE FROM members WHERE conv = $1 AND client_id = ANY($2)",
                    &[&num, &removed],
                )
                .await
                .map_err(pg)?;
            for id in &removed {
                self.forget_cursor(num, id);
            }
        }
        let record = Record::of(&conv);
        self.client
            .execute(UPDATE_CONV, &record.params(&num))
            .await
            .map_err(pg)?;
        if let Some(entry) = self.convs.get_mut(cid) {
            entry.members = Arc::from(conv.members.clone());
            entry.conv = conv.clone();
        }
        Ok((conv, concerned))
    }

    /// `append`: the message gets the conversation's next seq (inserted at the end of
    /// the batch).
    async fn append(&mut self, msg: NewMessage, admit: Admit) -> StoreResult<Arc<StoredMessage>> {
        storable([msg.id.as_str(), msg.from.as_str()])?;
        let Some(entry) = self.entry(&msg.cid).await? else {
            return Err(Refusal::NotFound.into());
        };
        admit(&entry.conv, &msg.from)?;
        let committed = next_message(msg, &entry.conv, entry.members.clone(), entry.last_seq)?;
        let stored = committed.msg.clone();
        entry.last_seq = stored.seq;
        entry.conv.last_message_at = Some(stored.timestamp);
        entry.head = true;
        let num = entry.num;
        if !committed.room {
            // A sender has its own messages: its cursor moves past them.
            self.ack_seq(num, &Arc::from(stored.from.as_str()), stored.seq)
                .await?;
        }
        self.messages.push((num, stored.clone()));
        self.commit.messages.push(committed);
        Ok(stored)
    }

    /// `patch`: replaces a message's content if its sender asks; the time of the
    /// change and the new content's mentions and `bin` go into its `meta`.
    async fn patch(&mut self, p: MessagePatch) -> StoreResult<i64> {
        self.flush_messages().await?;
        let Some(entry) = self.entry(&p.cid).await? else {
            return Err(Refusal::NotFound.into());
        };
        let num = entry.num;
        let found = self
            .client
            .query_opt(
                r#"SELECT seq, "from", timestamp FROM messages WHERE conv = $1 AND "msgId" = $2"#,
                &[&num, &p.mid],
            )
            .await
            .map_err(pg)?;
        let Some(row) = found else {
            return Err(Refusal::NotFound.into());
        };
        let (seq, from, timestamp): (i64, String, i64) = (row.get(0), row.get(1), row.get(2));
        if from != p.by {
            let why = "only its sender may change a message";
            return Err(Refusal::Invalid(why.into()).into());
        }
        self.client
            .execute(
                r#"UPDATE messages SET data = $3,
                       meta = ((coalesce(meta::jsonb, '{}') - 'mentionPids' - 'mentionAll' - 'bin')
                               || $4::text::jsonb)::text
                   WHERE conv = $1 AND seq = $2"#,
                &[&num, &seq, &p.data.as_bytes(), &p.meta()],
            )
            .await
            .map_err(pg)?;
        Ok(timestamp)
    }

    /// `delete`: the conversation with its history and cursors.
    async fn delete(&mut self, cid: &str) -> StoreResult<bool> {
        self.flush_messages().await?;
        let Some(entry) = self.entry(cid).await? else {
            return Ok(false);
        };
        let num = entry.num;
        for table in ["messages", "members"] {
            self.client
                .execute(&format!("DELETE FROM {table} WHERE conv = $1"), &[&num])
                .await
                .map_err(pg)?;
        }
        self.client
            .execute("DELETE FROM conversations WHERE num = $1", &[&num])
            .await
            .map_err(pg)?;
        self.convs.remove(cid);
        self.cursors.retain(|(n, _), _| *n != num);
        self.ack_at.retain(|(n, _)| *n != num);
        Ok(true)
    }
}
