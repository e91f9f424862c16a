//! `conv start` (§6.3): normal, unique and transient conversations.

use leanrt_protocol::signature::Action;
use leanrt_protocol::ErrorCode;
use serde_json::{json, Value};

use super::{check_ids, store_failure};
use crate::connection::Conn;
use crate::frame::{Failure, Request};
use crate::store::{NewConversation, RESERVED_FIELDS};
use crate::time::{iso, now_ms};

pub async fn start(conn: &mut Conn, req: &Request) -> Result<(), Failure> {
    let requested = req.client_ids("m")?;
    check_ids(&requested)?;
    let mut attr = match req.frame.get("attr") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(Failure::bad("attr must be an object")),
    };
    let transient = req.flag("transient");
    let session = conn.session()?;
    let creator = session.client.clone();
    if let Some(key) = &session.master_key {
        let action = Action::Start {
            members: &requested,
        };
        if !conn
            .shared
            .signatures
            .check(key, &session.app_id, &creator, action, &req.frame)
        {
            return Err(ErrorCode::ConversationSignatureFailed.into());
        }
    }
    let mut members = vec![creator.clone()];
    for id in requested {
        if !members.contains(&id) {
            members.push(id);
        }
    }
    if !transient && members.len() > conn.shared.limits.max_members {
        return Err(ErrorCode::ConversationFull.into());
    }
    let name = match attr.remove("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(Failure::bad("attr.name must be a string")),
    };
    let custom = attr.remove("attr").filter(|v| !v.is_null());
    attr.retain(|k, _| !RESERVED_FIELDS.contains(&k.as_str()));
    let new = NewConversation {
        creator: creator.clone(),
        members,
        name,
        attr: custom,
        extra: attr,
        transient,
        unique: req.flag("unique") && !transient,
        now: now_ms(),
    };
    let (conv, created) = conn
        .shared
        .store
        .create_conversation(new)
        .await
        .map_err(|e| store_failure(e, ErrorCode::ConversationApiFailed))?;
    conn.reply(
        req,
        json!({"cmd": "conv", "op": "started", "cid": conv.id, "cdate": iso(conv.created_at)}),
    );
    if conv.transient {
        conn.shared.hub.join_transient(&conv.id, &creator, conn.id);
    } else if created {
        let invited: Vec<String> = conv.members.iter().skip(1).cloned().collect();
        let joined = json!({"cmd": "conv", "op": "joined", "cid": conv.id, "initBy": creator});
        if let Value::Object(frame) = joined {
            conn.shared.hub.deliver(&invited, &frame, None, None);
        }
    }
    Ok(())
}
