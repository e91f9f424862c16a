//! `logs` (§6.6): history before a bound, newest `limit` returned oldest first.

use leanrt_protocol::ErrorCode;
use serde_json::{json, Value};

use crate::connection::Conn;
use crate::frame::{Failure, Request};
use crate::store::{Bound, LogQuery, StoreError};

/// Default and maximal page sizes.
const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 1000;

pub async fn logs(conn: &mut Conn, req: &Request) -> Result<(), Failure> {
    let cid = req
        .required_str("cid", ErrorCode::ConversationNotFound)?
        .to_owned();
    let limit = match req.int("limit")? {
        Some(l) => Some(l),
        None => req.int("l")?,
    }
    .filter(|l| *l >= 0)
    .unwrap_or(DEFAULT_LIMIT)
    .min(MAX_LIMIT);
    let query = LogQuery {
        cid,
        requester: conn.session()?.client.clone(),
        before: Bound {
            timestamp: req.int("t")?,
            mid: req.str("mid")?.map(String::from),
        },
        after: Bound {
            timestamp: req.int("tt")?,
            mid: req.str("tmid")?.map(String::from),
        },
        limit: limit as usize,
    };
    let messages = conn.shared.store.logs(query).await.map_err(|e| match e {
        StoreError::NotFound => ErrorCode::ConversationNotFound.into(),
        StoreError::NotMember => ErrorCode::ConversationLogRejected.into(),
        other => Failure::with(ErrorCode::ConversationLogFailed, other.to_string()),
    })?;
    let logs: Vec<Value> = messages.iter().map(|m| m.to_log()).collect();
    conn.reply(req, json!({"cmd": "logs", "logs": logs}));
    Ok(())
}
