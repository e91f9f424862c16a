//! Operations made with an app's master key (the REST API): no membership checks,
//! messages sent in any client's name, presence of any clientId.

use std::sync::Arc;

use leanrt_protocol::ErrorCode;
use serde_json::{Map, Value};

use super::{retrying, Codes, Failure, Service};
use crate::domain::event::{Event, Push};
use crate::domain::query::Query;
use crate::domain::rules::{self, StartRequest};
use crate::domain::{Conversation, Extras, NewMessage, StoredMessage};
use crate::ids::{message_id, object_id};
use crate::store::{AcrossRange, LogRange, QueryHit};
use crate::time::now_ms;

const ADMIN: Codes = Codes {
    not_found: ErrorCode::ConversationNotFound,
    not_member: ErrorCode::ConversationNotFound,
    invalid: ErrorCode::InvalidMessagingTarget,
    too_large: ErrorCode::FrameTooLong,
    storage: ErrorCode::ConversationApiFailed,
};

/// A conversation made with the master key: its members are exactly `members`.
pub struct Creation {
    pub creator: String,
    pub members: Vec<String>,
    /// `name`, `attr` and custom top-level keys.
    pub fields: Map<String, Value>,
    pub transient: bool,
    pub unique: bool,
}

/// A change to a conversation's members.
pub enum MemberOp {
    Add(Vec<String>),
    Remove(Vec<String>),
    /// Exactly these members (those missing are added, in this order).
    Set(Vec<String>),
}

/// A message sent in a client's name.
pub struct SendAs {
    pub cid: String,
    pub from: String,
    pub data: String,
    /// Pushed to whoever is online, not stored.
    pub transient: bool,
}

/// A `transient` message: never stored, so it has no seq and is never acked.
pub(super) fn transient_message(
    cid: &str,
    from: String,
    data: String,
    extras: Option<Box<Extras>>,
) -> Arc<StoredMessage> {
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
        extras,
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

    /// Creates a conversation (for a unique one, finds the one with the same
    /// members); the flag tells whether it was created.
    pub async fn create_as(&self, req: Creation) -> Result<(Conversation, bool), Failure> {
        let now = now_ms();
        let start = StartRequest {
            creator: req.creator,
            creator_joins: false,
            invited: req.members,
            attr: req.fields,
            transient: req.transient,
            unique: req.unique,
        };
        let conv = rules::new_conversation(object_id(now), start, self.record_limits(), now)
            .map_err(|r| ADMIN.failure(r.into()))?;
        let store = self.store.clone();
        retrying(|| store.create(conv.clone()))
            .await
            .map_err(|e| ADMIN.failure(e))
    }

    /// Sets `fields` (dot paths, as `conv update`) and changes the members of `cid`.
    /// Members are not notified: this edits the record, as LeanCloud's class API does.
    pub async fn update_as(
        &self,
        cid: &str,
        fields: Map<String, Value>,
        members: Option<MemberOp>,
    ) -> Result<Conversation, Failure> {
        let limits = self.record_limits();
        let store = self.store.clone();
        let members = Arc::new(members);
        let (conv, _) = retrying(|| {
            let (fields, members) = (fields.clone(), members.clone());
            store.modify(
                cid,
                Box::new(move |conv| {
                    let now = now_ms();
                    if !fields.is_empty() {
                        rules::apply_update(conv, fields, limits, now)?;
                    }
                    match members.as_ref() {
                        Some(_) if conv.transient => Err(crate::domain::Refusal::Invalid(
                            "a chat room (tr) has no members to change".into(),
                        )),
                        Some(MemberOp::Add(ids)) => rules::add_members(conv, ids, limits, now),
                        Some(MemberOp::Remove(ids)) => Ok(rules::remove_members(conv, ids, now)),
                        Some(MemberOp::Set(ids)) => {
                            let gone: Vec<String> = conv
                                .members
                                .iter()
                                .filter(|m| !ids.contains(m))
                                .cloned()
                                .collect();
                            let mut changed = rules::remove_members(conv, &gone, now);
                            changed.extend(rules::add_members(conv, ids, limits, now)?);
                            Ok(changed)
                        }
                        None => Ok(Vec::new()),
                    }
                }),
            )
        })
        .await
        .map_err(|e| ADMIN.failure(e))?;
        Ok(conv)
    }

    /// Deletes a conversation with its history; whether it existed.
    pub async fn delete_conversation(&self, cid: &str) -> Result<bool, Failure> {
        let store = self.store.clone();
        retrying(|| store.delete(cid))
            .await
            .map_err(|e| ADMIN.failure(e))
    }

    /// Conversations matching `query`, system ones included.
    pub async fn find_conversations(&self, mut query: Query) -> Result<Vec<QueryHit>, Failure> {
        query.include_system = true;
        let store = self.store.clone();
        retrying(|| store.query(query.clone()))
            .await
            .map_err(|e| ADMIN.failure(e))
    }

    /// History across conversations, in page order.
    pub async fn history_across(&self, range: AcrossRange) -> Result<Vec<StoredMessage>, Failure> {
        let store = self.store.clone();
        retrying(|| store.across(range.clone()))
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
        self.check_size(&req.data)?;
        if req.transient {
            let conv = self
                .find_conversation(&req.cid)
                .await?
                .ok_or(ErrorCode::ConversationNotFound)?;
            let msg = transient_message(&req.cid, req.from, req.data, None);
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
            extras: None,
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

    /// Ends every session of `client` (`session closed` 4115, then a close with
    /// 4115); returns how many there were.
    pub async fn kick(&self, client: &str, reason: &str) -> usize {
        let kicked = self.hub.kick(client, ErrorCode::KickedByApp).await;
        tracing::info!(client, reason, kicked, "kicked with the master key");
        kicked
    }

    /// Messages `client` has not received (what its next login is owed), in every
    /// conversation or in `cid` only.
    pub async fn unread(&self, client: &str, cid: Option<&str>) -> Result<usize, Failure> {
        let counts = self.unread_counts(client, cid).await;
        let counts = counts.map_err(|e| ADMIN.failure(e))?;
        Ok(counts.iter().map(|u| u.count).sum())
    }

    /// Whether each of `clients` is online.
    pub async fn online(&self, clients: &[String]) -> Vec<bool> {
        self.hub.online(clients).await
    }

    /// Up to `limit` clientIds connected to transient conversation `cid`, sorted.
    pub async fn room_clients(&self, cid: &str, limit: usize) -> Vec<String> {
        self.hub.room_clients(cid, limit).await
    }

    /// Distinct clientIds in transient conversation `cid`.
    pub async fn room_count(&self, cid: &str) -> usize {
        self.hub.room_count(cid).await
    }
}
