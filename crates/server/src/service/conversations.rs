//! `conv start`, `add`, `remove`, `update`, `query` and `count` (§6.3, §6.4, §6.7,
//! §6.8), with the notification tables of §6.4.

use leanrt_protocol::command::{ConvQuery, ConvStart, MemberChange};
use leanrt_protocol::signature::Action;
use leanrt_protocol::ErrorCode;
use serde_json::{Map, Value};

use super::{retrying, Codes, Failure, Notices, Service, SessionCtx};
use crate::domain::event::{Event, Push};
use crate::domain::query::Query;
use crate::domain::rules::{self, StartRequest};
use crate::domain::temporary;
use crate::domain::Conversation;
use crate::ids::{object_id, temporary_id};
use crate::store::Admit;
use crate::store::QueryHit;
use crate::time::now_ms;

/// A started (or, for unique conversations, found) conversation.
pub struct Started {
    pub conv: Conversation,
    pub notices: Notices,
}

const START: Codes = Codes {
    not_found: ErrorCode::ConversationApiFailed,
    not_member: ErrorCode::ConversationApiFailed,
    invalid: ErrorCode::ConversationApiFailed,
    too_large: ErrorCode::ConversationApiFailed,
    storage: ErrorCode::ConversationApiFailed,
};
/// The most clientIds `conv members` answers with (the Swift SDK's cap too).
pub const ONLINE_MEMBERS_MAX: usize = 50;

const MEMBERS: Codes = Codes {
    not_found: ErrorCode::ConversationNotFound,
    not_member: ErrorCode::ConversationApiFailed,
    invalid: ErrorCode::InternalError,
    too_large: ErrorCode::ConversationApiFailed,
    storage: ErrorCode::ConversationApiFailed,
};
const UPDATE: Codes = Codes {
    not_found: ErrorCode::ConversationNotFound,
    not_member: ErrorCode::ConversationUpdateRejected,
    invalid: ErrorCode::ConversationUpdateFailed,
    too_large: ErrorCode::ConversationUpdateFailed,
    storage: ErrorCode::ConversationUpdateFailed,
};
const QUERY: Codes = Codes {
    not_found: ErrorCode::ConversationQueryFailed,
    not_member: ErrorCode::ConversationQueryFailed,
    invalid: ErrorCode::ConversationQueryFailed,
    too_large: ErrorCode::ConversationQueryFailed,
    storage: ErrorCode::ConversationQueryFailed,
};

impl Service {
    /// Checks the signature of `action` when the app enforces them (4302 if bad).
    async fn signed(
        &self,
        s: &SessionCtx,
        action: Action<'_>,
        signature: Option<&leanrt_protocol::command::Signature>,
    ) -> Result<(), Failure> {
        let Some(key) = &s.master_key else {
            return Ok(());
        };
        if self
            .signatures
            .check(key, &s.app_id, &s.client, action, signature)
            .await
        {
            Ok(())
        } else {
            Err(ErrorCode::ConversationSignatureFailed.into())
        }
    }

    pub async fn start(&self, s: &SessionCtx, req: ConvStart) -> Result<Started, Failure> {
        let action = Action::Start {
            members: &req.members,
        };
        self.signed(s, action, req.signature.as_ref()).await?;
        let now = now_ms();
        let start = StartRequest {
            creator: s.client.to_string(),
            creator_joins: true,
            invited: req.members,
            attr: req.attr,
            transient: req.transient,
            unique: req.unique,
        };
        let id = match req.temporary {
            Some(_) => temporary_id(),
            None => object_id(now),
        };
        let mut conv = rules::new_conversation(id, start, self.record_limits(), now)
            .map_err(|r| START.failure(r.into()))?;
        if let Some(temp) = req.temporary {
            temporary::ttl_secs(temp.ttl)
                .and_then(|ttl| temporary::make(&mut conv, ttl))
                .map_err(|r| START.failure(r.into()))?;
        }
        let store = self.store.clone();
        let (conv, created) = retrying(|| store.create(conv.clone()))
            .await
            .map_err(|e| START.failure(e))?;
        let mut notices = Notices::default();
        if conv.transient {
            self.hub.join_room(&conv.id, &s.client, &s.id).await;
        } else if created {
            let invited: Vec<String> = conv.members.iter().skip(1).cloned().collect();
            let push = Push::new(Event::Membership {
                cid: conv.id.clone(),
                joined: true,
                by: s.client.to_string(),
            });
            notices.add(invited, push);
        }
        Ok(Started { conv, notices })
    }

    /// `conv add` (`add`) or `conv remove`: what to push once the reply is out.
    pub async fn change_members(
        &self,
        s: &SessionCtx,
        req: MemberChange,
        add: bool,
    ) -> Result<Notices, Failure> {
        let me = s.client.to_string();
        let self_only = req.members.len() == 1 && req.members[0] == me;
        let action = if add {
            Some(Action::Invite {
                cid: &req.cid,
                members: &req.members,
            })
        } else {
            // Leaving (removing exactly oneself) is never signed by v2 clients.
            (!self_only).then_some(Action::Kick {
                cid: &req.cid,
                members: &req.members,
            })
        };
        if let Some(action) = action {
            self.signed(s, action, req.signature.as_ref()).await?;
        }
        let conv = self.existing(&req.cid, &MEMBERS).await?;
        if conv.transient {
            if !self_only {
                return Err(ErrorCode::ConversationReadOnly.into());
            }
            if add {
                self.hub.join_room(&req.cid, &me, &s.id).await;
            } else {
                self.hub.leave_room(&req.cid, &s.id).await;
            }
            return Ok(Notices::default());
        }
        let limits = self.record_limits();
        let store = self.store.clone();
        let (after, changed) = retrying(|| {
            let ids = req.members.clone();
            store.modify(
                &req.cid,
                Box::new(move |conv| {
                    let now = now_ms();
                    if add {
                        rules::add_members(conv, &ids, limits, now)
                    } else {
                        Ok(rules::remove_members(conv, &ids, now))
                    }
                }),
            )
        })
        .await
        .map_err(|e| MEMBERS.failure(e))?;
        let mut notices = Notices::default();
        if !changed.is_empty() {
            let one = Push::new(Event::Membership {
                cid: req.cid.clone(),
                joined: add,
                by: me.clone(),
            });
            let all = Push::new(Event::Members {
                cid: req.cid,
                joined: add,
                members: changed.clone(),
                by: me,
            });
            notices.add(changed, one);
            notices.add(after.members, all);
        }
        Ok(notices)
    }

    /// A conversation that must exist, and be alive if temporary (from a reader).
    async fn existing(&self, cid: &str, codes: &Codes) -> Result<Conversation, Failure> {
        let store = self.store.clone();
        let conv = retrying(|| store.conversation(cid))
            .await
            .map_err(|e| codes.failure(e))?
            .ok_or_else(|| Failure::from(codes.not_found))?;
        conv.alive(now_ms()).map_err(|r| codes.failure(r.into()))?;
        Ok(conv)
    }

    /// A conversation that must exist and let `client` in by `admit`.
    pub(super) async fn admitted(
        &self,
        cid: &str,
        client: &str,
        admit: Admit,
        codes: &Codes,
    ) -> Result<Conversation, Failure> {
        let conv = self.existing(cid, codes).await?;
        admit(&conv, client).map_err(|r| codes.failure(r.into()))?;
        Ok(conv)
    }

    /// `conv update`: returns the new `updatedAt`.
    pub async fn update(
        &self,
        s: &SessionCtx,
        cid: String,
        changes: Map<String, Value>,
    ) -> Result<i64, Failure> {
        let limits = self.record_limits();
        let store = self.store.clone();
        let actor = s.client.to_string();
        let (conv, _) = retrying(|| {
            let (actor, changes) = (actor.clone(), changes.clone());
            store.modify(
                &cid,
                Box::new(move |conv| {
                    rules::update(conv, &actor, changes, limits, now_ms()).map(|()| Vec::new())
                }),
            )
        })
        .await
        .map_err(|e| UPDATE.failure(e))?;
        Ok(conv.updated_at)
    }

    /// `conv query`. Asked for by `tempConvIds`, temporary conversations none of
    /// which is alive are refused (4303).
    pub async fn query(&self, req: &ConvQuery) -> Result<(Vec<QueryHit>, bool), Failure> {
        let query = Query::parse(req, now_ms())
            .map_err(|e| Failure::with(ErrorCode::ConversationQueryFailed, e))?;
        let compact = query.compact;
        let store = self.store.clone();
        let hits = retrying(|| store.query(query.clone()))
            .await
            .map_err(|e| QUERY.failure(e))?;
        if hits.is_empty() && !req.temporary_ids.is_empty() {
            return Err(ErrorCode::ConversationNotFound.into());
        }
        Ok((hits, compact))
    }

    /// Members of a normal conversation, online participants of a transient one.
    pub async fn count(&self, cid: &str) -> Result<usize, Failure> {
        let conv = self.existing(cid, &MEMBERS).await?;
        Ok(if conv.transient {
            self.hub.room_count(cid).await
        } else {
            conv.members.len()
        })
    }

    /// Up to `limit` (at most [`ONLINE_MEMBERS_MAX`]) clientIds, sorted, of the
    /// online participants of a transient conversation or the online members of
    /// another.
    pub async fn online_members(
        &self,
        cid: &str,
        limit: Option<i64>,
    ) -> Result<Vec<String>, Failure> {
        let conv = self.existing(cid, &MEMBERS).await?;
        let limit = limit.filter(|l| *l > 0).map_or(ONLINE_MEMBERS_MAX, |l| {
            l.min(ONLINE_MEMBERS_MAX as i64) as usize
        });
        if conv.transient {
            return Ok(self.hub.room_clients(cid, limit).await);
        }
        let mut members = conv.members;
        members.sort();
        let online = self.hub.online(&members).await;
        Ok(members
            .into_iter()
            .zip(online)
            .filter_map(|(m, on)| on.then_some(m))
            .take(limit)
            .collect())
    }
}
