//! `conv add` and `conv remove` (§6.4), with the notification tables: the reply to the
//! initiator, then `joined`/`left` to those changed, then `members-joined` to all
//! members after the change or `members-left` to those remaining.

use leanrt_protocol::signature::Action;
use leanrt_protocol::ErrorCode;
use serde_json::{json, Value};

use super::{check_ids, store_failure};
use crate::connection::Conn;
use crate::frame::{Failure, Request};
use crate::time::now_ms;

pub async fn add(conn: &mut Conn, req: &Request) -> Result<(), Failure> {
    change(conn, req, true).await
}

pub async fn remove(conn: &mut Conn, req: &Request) -> Result<(), Failure> {
    change(conn, req, false).await
}

async fn change(conn: &mut Conn, req: &Request, add: bool) -> Result<(), Failure> {
    let cid = req
        .required_str("cid", ErrorCode::ConversationNotFound)?
        .to_owned();
    let ids = req.client_ids("m")?;
    check_ids(&ids)?;
    let session = conn.session()?;
    let me = session.client.clone();
    let self_only = ids.len() == 1 && ids[0] == me;
    if let Some(key) = &session.master_key {
        let action = if add {
            Some(Action::Invite {
                cid: &cid,
                members: &ids,
            })
        } else {
            // Leaving (removing exactly oneself) is never signed by v2 clients.
            (!self_only).then_some(Action::Kick {
                cid: &cid,
                members: &ids,
            })
        };
        if let Some(action) = action {
            if !conn
                .shared
                .signatures
                .check(key, &session.app_id, &me, action, &req.frame)
            {
                return Err(ErrorCode::ConversationSignatureFailed.into());
            }
        }
    }
    let shared = conn.shared.clone();
    let conv = shared
        .store
        .conversation(cid.clone())
        .await
        .map_err(|e| store_failure(e, ErrorCode::ConversationApiFailed))?
        .ok_or(ErrorCode::ConversationNotFound)?;
    let (reply_op, one_op, all_op) = if add {
        ("added", "joined", "members-joined")
    } else {
        ("removed", "left", "members-left")
    };
    if conv.transient {
        if !self_only {
            return Err(ErrorCode::ConversationReadOnly.into());
        }
        if add {
            shared.hub.join_transient(&cid, &me, conn.id);
        } else {
            shared.hub.leave_transient(&cid, conn.id);
        }
        conn.reply(req, json!({"cmd": "conv", "op": reply_op, "cid": cid}));
        return Ok(());
    }
    let now = now_ms();
    let change = if add {
        shared
            .store
            .add_members(cid.clone(), ids, shared.limits.max_members, now)
            .await
    } else {
        shared.store.remove_members(cid.clone(), ids, now).await
    }
    .map_err(|e| store_failure(e, ErrorCode::ConversationApiFailed))?;
    conn.reply(req, json!({"cmd": "conv", "op": reply_op, "cid": cid}));
    if change.changed.is_empty() {
        return Ok(());
    }
    let one = json!({"cmd": "conv", "op": one_op, "cid": cid, "initBy": me});
    let all = json!({"cmd": "conv", "op": all_op, "cid": cid, "m": change.changed, "initBy": me});
    if let (Value::Object(one), Value::Object(all)) = (one, all) {
        shared.hub.deliver(&change.changed, &one, None, None);
        shared.hub.deliver(&change.members, &all, None, None);
    }
    Ok(())
}
