//! `direct` (§6.5), recipient acks, `logs` (§6.6) and what a login owes.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use leanrt_protocol::command::{Direct, Logs};
use leanrt_protocol::ErrorCode;

use super::admin::transient_message;
use super::{retrying, Codes, Failure, Service, SessionCtx};
use crate::domain::{rules, temporary, Extras, NewMessage, StoredMessage};
use crate::ids::message_id;
use crate::store::{Ack, LogRange, Pending, PendingPage, StoreResult};
use crate::time::now_ms;

/// Default and largest `logs` pages.
const DEFAULT_LOGS: i64 = 20;
const MAX_LOGS: i64 = 1000;

const DIRECT: Codes = Codes {
    not_found: ErrorCode::InvalidMessagingTarget,
    not_member: ErrorCode::InvalidMessagingTarget,
    invalid: ErrorCode::InvalidMessagingTarget,
    too_large: ErrorCode::InvalidMessagingTarget,
    storage: ErrorCode::ConversationApiFailed,
};
const LOGS: Codes = Codes {
    not_found: ErrorCode::ConversationNotFound,
    not_member: ErrorCode::ConversationLogRejected,
    invalid: ErrorCode::ConversationLogFailed,
    too_large: ErrorCode::ConversationLogFailed,
    storage: ErrorCode::ConversationLogFailed,
};

/// A message on its way to the store; it resolves once committed.
pub type Appending = BoxFuture<'static, Result<Arc<StoredMessage>, Failure>>;

impl Service {
    /// Refuses a message over `--max-message-bytes` (4109).
    pub(super) fn check_size(&self, msg: &str) -> Result<(), Failure> {
        if msg.len() > self.limits.max_message_bytes {
            return Err(ErrorCode::FrameTooLong.into());
        }
        Ok(())
    }

    /// Stores a message. The returned future may be awaited while the caller goes on:
    /// appends from one caller commit in the order they were made.
    pub fn append(&self, s: &SessionCtx, req: Direct) -> Result<Appending, Failure> {
        let (data, extras) =
            Extras::content(req.msg, req.binary, req.mention_pids, req.mention_all);
        self.check_size(&data)?;
        let now = now_ms();
        let msg = NewMessage {
            cid: req.cid,
            id: message_id(now),
            from: s.client.to_string(),
            data,
            timestamp: now,
            receipt: req.receipt,
            extras,
            origin: Some(s.id.clone()),
        };
        let store = self.store.clone();
        // The first attempt is queued now, which fixes this message's place in order.
        let mut first = Some(store.append(msg.clone(), rules::may_send));
        Ok(async move {
            retrying(|| {
                first
                    .take()
                    .unwrap_or_else(|| store.append(msg.clone(), rules::may_send))
            })
            .await
            .map_err(|e| DIRECT.failure(e))
        }
        .boxed())
    }

    /// A `transient: true` message: pushed to whoever is online, never stored.
    pub async fn send_transient(&self, s: &SessionCtx, req: Direct) -> Result<(), Failure> {
        let (data, extras) =
            Extras::content(req.msg, req.binary, req.mention_pids, req.mention_all);
        self.check_size(&data)?;
        let conv = self
            .admitted(&req.cid, &s.client, rules::may_send, &DIRECT)
            .await?;
        let msg = transient_message(&req.cid, s.client.to_string(), data, extras);
        self.push_transient(&conv, Some(&s.id), msg).await;
        Ok(())
    }

    /// Records recipient acks (resolved by the session from what it delivered).
    pub fn ack(&self, acks: Vec<Ack>) {
        self.store.ack(acks);
    }

    pub async fn logs(&self, s: &SessionCtx, req: Logs) -> Result<Vec<StoredMessage>, Failure> {
        let limit = req
            .limit
            .filter(|l| *l >= 0)
            .unwrap_or(DEFAULT_LOGS)
            .min(MAX_LOGS);
        let range = LogRange {
            cid: req.cid,
            requester: s.client.to_string(),
            before: req.before,
            after: req.after,
            limit: limit as usize,
            oldest: false,
            include_before: false,
            include_after: false,
        };
        let store = self.store.clone();
        retrying(|| store.logs(range.clone(), rules::may_read))
            .await
            .map_err(|e| LOGS.failure(e))
    }

    /// What `client` is owed at login, within the conversation cap: after the acks
    /// already received (from its other sessions, or the one it just left).
    pub async fn pending(&self, client: &str) -> StoreResult<Vec<Pending>> {
        let store = self.store.clone();
        retrying(|| store.settle_acks()).await?;
        let cap = self.limits.offline_conversations;
        let owed = retrying(|| store.pending(client, cap)).await?;
        self.without_expired(owed).await
    }

    /// `owed` without the temporary conversations that expired (or are gone):
    /// nothing in them is delivered, counted as unread or read any more.
    async fn without_expired(&self, owed: Vec<Pending>) -> StoreResult<Vec<Pending>> {
        let now = now_ms();
        let mut live = Vec::with_capacity(owed.len());
        for pending in owed {
            if temporary::is_temporary(&pending.cid) {
                let store = self.store.clone();
                let conv = retrying(|| store.conversation(&pending.cid)).await?;
                if conv.is_none_or(|c| c.alive(now).is_err()) {
                    continue;
                }
            }
            live.push(pending);
        }
        Ok(live)
    }

    pub async fn pending_page(
        &self,
        client: &str,
        pending: &Pending,
        limit: usize,
    ) -> StoreResult<PendingPage> {
        let store = self.store.clone();
        retrying(|| store.pending_page(client, pending, limit)).await
    }
}
