//! `conv query` (§6.7): replies `results`, always an array.

use leanrt_protocol::ErrorCode;
use serde_json::{json, Value};

use super::store_failure;
use crate::connection::Conn;
use crate::frame::{Failure, Request};
use crate::query::Query;

pub async fn query(conn: &mut Conn, req: &Request) -> Result<(), Failure> {
    let query = Query::parse(&req.frame)
        .map_err(|e| Failure::with(ErrorCode::ConversationQueryFailed, e))?;
    let compact = query.compact;
    let found = conn
        .shared
        .store
        .query(query)
        .await
        .map_err(|e| store_failure(e, ErrorCode::ConversationQueryFailed))?;
    let results: Vec<Value> = found
        .iter()
        .map(|(conv, last)| conv.to_result(compact, last.as_ref()))
        .collect();
    conn.reply(
        req,
        json!({"cmd": "conv", "op": "results", "results": results}),
    );
    Ok(())
}
