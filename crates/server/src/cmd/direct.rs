//! `direct` (§6.5): store, ack, then fan out; transient messages skip the store.

use futures_util::future::BoxFuture;
use leanrt_protocol::ErrorCode;
use serde_json::{json, Value};

use crate::connection::Conn;
use crate::frame::{Failure, Request};
use crate::ids::message_id;
use crate::store::{Conversation, Message, NewMessage, StoreError, StoreResult};
use crate::time::now_ms;

pub async fn direct(conn: &mut Conn, req: &Request) -> Result<(), Failure> {
    let cid = req
        .required_str("cid", ErrorCode::InvalidMessagingTarget)?
        .to_owned();
    let data = match req.frame.get("msg") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(Failure::bad("msg must be a string")),
    };
    if data.len() > conn.shared.limits.max_message_bytes {
        return Err(ErrorCode::FrameTooLong.into());
    }
    let from = conn.session()?.client.clone();
    let shared = conn.shared.clone();
    if req.flag("transient") {
        let conv = shared
            .store
            .conversation(cid.clone())
            .await
            .map_err(target_failure)?
            .filter(|c| c.transient || c.members.contains(&from))
            .ok_or(ErrorCode::InvalidMessagingTarget)?;
        let now = now_ms();
        let frame = json!({
            "cmd": "direct", "cid": cid, "id": message_id(now), "fromPeerId": from,
            "timestamp": now, "msg": data, "transient": true,
        });
        fan_out(conn, &conv, frame, None);
        return Ok(());
    }
    let now = now_ms();
    let new = NewMessage {
        cid,
        id: message_id(now),
        from,
        data,
        timestamp: now,
        receipt: req.flag("r"),
    };
    // The store runs operations in order, so the connection may read on while this
    // commits; `stored` answers it once it has.
    let appended = shared.store.append_message(new);
    let i = req.i.clone();
    conn.pending.push_back(Box::pin(async move {
        Stored {
            i,
            result: appended.await,
        }
    }));
    Ok(())
}

/// A message whose commit was awaited: the request's `i` and the store's answer.
pub struct Stored {
    i: Option<Value>,
    result: StoreResult<(Message, Conversation)>,
}

/// A `direct` waiting for its commit.
pub type Pending = BoxFuture<'static, Stored>;

/// Acks a committed message to the sender, then delivers it.
pub fn stored(conn: &mut Conn, stored: Stored) {
    let (msg, conv) = match stored.result {
        Ok(done) => done,
        Err(e) => return conn.fail_ack(stored.i.as_ref(), target_failure(e)),
    };
    conn.reply_to(
        stored.i.as_ref(),
        json!({"cmd": "ack", "uid": msg.id, "t": msg.timestamp}),
    );
    let frame = json!({
        "cmd": "direct", "cid": msg.cid, "id": msg.id, "fromPeerId": msg.from,
        "timestamp": msg.timestamp, "msg": msg.data,
    });
    fan_out(conn, &conv, frame, Some(msg.commit));
}

fn target_failure(e: StoreError) -> Failure {
    match e {
        StoreError::Backend(detail) => Failure::with(ErrorCode::ConversationApiFailed, detail),
        _ => ErrorCode::InvalidMessagingTarget.into(),
    }
}

/// Delivers to every online session in the conversation but the sending connection.
/// `commit` is the stored message's commit number (none for transient messages).
fn fan_out(conn: &Conn, conv: &Conversation, frame: Value, commit: Option<i64>) {
    let Value::Object(frame) = frame else {
        return;
    };
    if conv.transient {
        conn.shared
            .hub
            .deliver_transient(&conv.id, &frame, Some(conn.id));
    } else {
        conn.shared
            .hub
            .deliver(&conv.members, &frame, Some(conn.id), commit);
    }
}
