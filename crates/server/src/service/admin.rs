//! Operations made with an app's master key (the REST API): no membership checks,
//! messages sent in any client's name, presence of any clientId.

use std::sync::Arc;

use leanrt_protocol::ErrorCode;

use super::{retrying, Codes, Failure, Service};
use crate::domain::event::{Event, Push};
use crate::domain::{rules, Conversation, NewMessage, StoredMessage};
use crate::ids::message_id;
use crate::store::LogRange;
use crate::time::now_ms;

const ADMIN: Codes = Codes {
    not_found: ErrorCode::ConversationNotFound,
    not_member: ErrorCode::ConversationNotFound,
    invalid: ErrorCode::InvalidMessagingTarget,
    too_large: ErrorCode::FrameTooLong,
    storage: ErrorCode::ConversationApiFailed,
};

/// A message sent in a client's name.
pub struct SendAs {
    pub cid: String,
    pub from: String,
    pub data: String,
    /// Pushed to whoever is online, not stored.
    pub transient: bool,
}

/// A `transient` message: never stored, so it has no seq and is never acked.
pub(super) fn transient_message(cid: &str, from: String, data: String) -> Arc<StoredMessage> {
    let now = now_ms();
    Arc::new(StoredMessage {
        cid: Arc::from(cid),
        seq: 0,
        id: message_id(now),
        from,
        data,
        timestamp: now,
        ack_at: None,
        receipt: false,
    })
}

impl Service {
    /// A conversation by id.
    pub async fn find_conversation(&self, cid: &str) -> Result<Option<Conversation>, Failure> {
        let store = self.store.clone();
        retrying(|| store.conversation(cid))
            .await
            .map_err(|e| ADMIN.failure(e))
    }

    /// History of any conversation, oldest first.
    pub async fn history(&self, range: LogRange) -> Result<Vec<StoredMessage>, Failure> {
        let store = self.store.clone();
        retrying(|| store.logs(range.clone(), rules::master_key))
            .await
            .map_err(|e| ADMIN.failure(e))
    }

    /// Sends a message as `req.from`, member or not; every online member gets it,
    /// the sender's own sessions too. A stored message resolves once committed.
    pub async fn send_as(&self, req: SendAs) -> Result<Arc<StoredMessage>, Failure> {
        if req.data.len() > self.limits.max_message_bytes {
            return Err(ErrorCode::FrameTooLong.into());
        }
        if req.transient {
            let conv = self
                .find_conversation(&req.cid)
                .await?
                .ok_or(ErrorCode::ConversationNotFound)?;
            let msg = transient_message(&req.cid, req.from, req.data);
            self.push_transient(&conv, None, msg.clone()).await;
            return Ok(msg);
        }
        let now = now_ms();
        let msg = NewMessage {
            cid: req.cid,
            id: message_id(now),
            from: req.from,
            data: req.data,
            timestamp: now,
            receipt: false,
            origin: None,
        };
        let store = self.store.clone();
        retrying(|| store.append(msg.clone(), rules::master_key))
            .await
            .map_err(|e| ADMIN.failure(e))
    }

    /// Pushes a transient message to the online members (of a transient
    /// conversation: its participants), except the sending session.
    pub(super) async fn push_transient(
        &self,
        conv: &Conversation,
        except: Option<&crate::domain::SessionId>,
        msg: Arc<StoredMessage>,
    ) {
        let push = Push::new(Event::Transient(msg));
        if conv.transient {
            self.hub.deliver_room(&conv.id, except, &[push]).await;
        } else {
            self.hub.deliver(&conv.members, except, &[push]).await;
        }
    }

    /// Whether each of `clients` is online.
    pub async fn online(&self, clients: &[String]) -> Vec<bool> {
        self.hub.online(clients).await
    }

    /// Distinct clientIds in transient conversation `cid`.
    pub async fn room_count(&self, cid: &str) -> usize {
        self.hub.room_count(cid).await
    }
}
