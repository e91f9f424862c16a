//! `conv update` (§6.8): each key of `attr` is a field path whose value is replaced.

use leanrt_protocol::ErrorCode;
use serde_json::{json, Value};

use super::store_failure;
use crate::connection::Conn;
use crate::frame::{Failure, Request};
use crate::time::{iso, now_ms};

pub async fn update(conn: &mut Conn, req: &Request) -> Result<(), Failure> {
    let cid = req
        .required_str("cid", ErrorCode::ConversationNotFound)?
        .to_owned();
    let changes: Vec<(String, Value)> = match req.frame.get("attr") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(o)) => o.clone().into_iter().collect(),
        Some(_) => {
            return Err(Failure::with(
                ErrorCode::ConversationUpdateFailed,
                "attr must be an object",
            ))
        }
    };
    let actor = conn.session()?.client.clone();
    let updated = conn
        .shared
        .store
        .update_conversation(cid.clone(), actor, changes, now_ms())
        .await
        .map_err(|e| store_failure(e, ErrorCode::ConversationUpdateFailed))?;
    conn.reply(
        req,
        json!({"cmd": "conv", "op": "updated", "cid": cid, "udate": iso(updated)}),
    );
    Ok(())
}
