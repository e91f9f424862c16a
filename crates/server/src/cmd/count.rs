//! `conv count` (§6.8): members of a normal conversation, online participants of a
//! transient one.

use leanrt_protocol::ErrorCode;
use serde_json::json;

use super::store_failure;
use crate::connection::Conn;
use crate::frame::{Failure, Request};

pub async fn count(conn: &mut Conn, req: &Request) -> Result<(), Failure> {
    let cid = req
        .required_str("cid", ErrorCode::ConversationNotFound)?
        .to_owned();
    let conv = conn
        .shared
        .store
        .conversation(cid)
        .await
        .map_err(|e| store_failure(e, ErrorCode::ConversationApiFailed))?
        .ok_or(ErrorCode::ConversationNotFound)?;
    let count = if conv.transient {
        conn.shared.hub.transient_count(&conv.id)
    } else {
        conv.members.len()
    };
    conn.reply(req, json!({"cmd": "conv", "op": "result", "count": count}));
    Ok(())
}
