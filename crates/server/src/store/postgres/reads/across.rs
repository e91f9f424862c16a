//! History across conversations (the whole app, or what one client sent), in
//! `(timestamp, msgId)` order: one indexed statement, since `msgId` sorts bytewise
//! (`COLLATE "C"`) as the server compares ids.

use std::sync::Arc;

use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use super::super::errors::pg;
use super::super::rows::{message_from_row, MSG_COLUMNS};
use crate::domain::StoredMessage;
use crate::store::{AcrossRange, At, StoreResult};

/// A condition that keeps messages on one side of `at`; `above` keeps the newer
/// ones. With no message named, only the time counts.
fn edge(
    at: &At,
    above: bool,
    inclusive: bool,
    args: &mut Vec<Box<dyn ToSql + Sync + Send>>,
) -> String {
    let op = match (above, inclusive) {
        (true, false) => ">",
        (true, true) => ">=",
        (false, false) => "<",
        (false, true) => "<=",
    };
    args.push(Box::new(at.timestamp));
    let t = args.len();
    match &at.mid {
        Some(mid) => {
            args.push(Box::new(mid.clone()));
            format!(r#" AND (m.timestamp, m."msgId") {op} (${t}, ${})"#, t + 1)
        }
        None => format!(" AND m.timestamp {op} ${t}"),
    }
}

pub async fn across(c: &Client, range: &AcrossRange) -> StoreResult<Vec<StoredMessage>> {
    if range.limit == 0 {
        return Ok(Vec::new());
    }
    let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let mut filter = String::new();
    if let Some(from) = &range.from {
        args.push(Box::new(from.clone()));
        filter.push_str(&format!(r#" AND m."from" = ${}"#, args.len()));
    }
    // (older, newer) bounds.
    let (start, till) = (
        (range.start.as_ref(), range.include_start),
        (range.till.as_ref(), range.include_stop),
    );
    let (older, newer) = if range.reversed {
        (start, till)
    } else {
        (till, start)
    };
    if let (Some(at), inclusive) = older {
        filter.push_str(&edge(at, true, inclusive, &mut args));
    }
    if let (Some(at), inclusive) = newer {
        filter.push_str(&edge(at, false, inclusive, &mut args));
    }
    let order = if range.reversed { "ASC" } else { "DESC" };
    args.push(Box::new(i64::try_from(range.limit).unwrap_or(i64::MAX)));
    let sql = format!(
        r#"SELECT c."objectId", {MSG_COLUMNS} FROM messages m
           JOIN conversations c ON c.num = m.conv
           WHERE TRUE{filter}
           ORDER BY m.timestamp {order}, m."msgId" {order} LIMIT ${}"#,
        args.len()
    );
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| &**a as _).collect();
    let rows = c.query(&sql, &params).await.map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| message_from_row(&Arc::from(r.get::<_, &str>(0)), r, 1))
        .collect())
}
