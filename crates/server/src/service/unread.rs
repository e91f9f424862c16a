//! Unread counts and reads: what a member was not delivered yet, per conversation,
//! and a `read` that settles it (v3's `…2.3` mode, and the REST unread counts).

use std::sync::Arc;

use leanrt_protocol::command::Bound;

use super::{retrying, Notices, Service, SessionCtx};
use crate::domain::event::{Event, Push};
use crate::domain::{rules, StoredMessage};
use crate::store::{Ack, LogRange, StoreResult};

/// Pending messages read per store call.
const PAGE: usize = 1000;
/// Newest messages of a read range looked at for read receipts.
const RECEIPT_SCAN: usize = 100;

/// A conversation with messages a member has not been delivered.
pub struct Unread {
    pub cid: Arc<str>,
    pub count: usize,
    /// The newest of them.
    pub last: StoredMessage,
    /// One of them mentions the member.
    pub mentioned: bool,
}

impl Service {
    /// Per conversation, what `client` is owed (newest conversations first), and
    /// the newest message of each; `only` keeps one conversation.
    pub async fn unread_counts(
        &self,
        client: &str,
        only: Option<&str>,
    ) -> StoreResult<Vec<Unread>> {
        let mut counts = Vec::new();
        for mut pending in self.pending(client).await? {
            if only.is_some_and(|cid| *pending.cid != *cid) {
                continue;
            }
            let mut count = 0;
            let mut last = None;
            let mut mentioned = false;
            while pending.after < pending.upto {
                let page = self.pending_page(client, &pending, PAGE).await?;
                count += page.messages.len();
                mentioned |= page
                    .messages
                    .iter()
                    .any(|m| m.extras.as_ref().is_some_and(|e| e.mentions(client)));
                last = page.messages.into_iter().last().or(last);
                pending.after = page.scanned_to;
            }
            if let Some(last) = last {
                counts.push(Unread {
                    cid: pending.cid,
                    count,
                    last,
                    mentioned,
                });
            }
        }
        Ok(counts)
    }

    /// `s` has read `cid` up to `upto` (ms; everything when `None`): what it was owed
    /// there until then is settled, and the senders of the newest of those messages
    /// that asked for receipts get a read receipt.
    pub async fn read(&self, s: &SessionCtx, cid: &str, upto: Option<i64>) -> StoreResult<Notices> {
        let within = |m: &StoredMessage| upto.is_none_or(|t| m.timestamp <= t);
        let mut acks = Vec::new();
        for mut pending in self.pending(&s.client).await? {
            if *pending.cid != *cid {
                continue;
            }
            while pending.after < pending.upto {
                let page = self.pending_page(&s.client, &pending, PAGE).await?;
                acks.extend(page.messages.iter().filter(|m| within(m)).map(|m| Ack {
                    cid: pending.cid.clone(),
                    client: s.client.clone(),
                    seq: m.seq,
                    receipt: None,
                }));
                pending.after = page.scanned_to;
            }
        }
        self.ack(acks);
        let range = LogRange {
            cid: cid.to_owned(),
            requester: s.client.to_string(),
            before: Bound {
                timestamp: upto.map(|t| t + 1),
                mid: None,
            },
            after: Bound::default(),
            limit: RECEIPT_SCAN,
            oldest: false,
            include_before: false,
            include_after: false,
        };
        let store = self.store.clone();
        let recent = retrying(|| store.logs(range.clone(), rules::may_read)).await?;
        let mut notices = Notices::default();
        let mut told = Vec::new();
        for m in recent.iter().rev() {
            if m.receipt && *m.from != *s.client && !told.contains(&m.from) {
                told.push(m.from.clone());
                let push = Push::new(Event::Read {
                    cid: cid.to_owned(),
                    mid: m.id.clone(),
                    at: crate::time::now_ms(),
                    by: s.client.to_string(),
                });
                notices.add(vec![m.from.clone()], push);
            }
        }
        Ok(notices)
    }
}
