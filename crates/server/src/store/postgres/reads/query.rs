//! `conv query`: an index narrows the candidates (ids, a member, a column or an
//! `attr` leaf by `jsonb` containment), the domain's matcher decides. Without an
//! index, conversations are read in `lm` order until the page is full, or all of
//! them in chunks.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::Client;

use super::super::errors::pg;
use super::super::rows::{conv_from_row, message_from_row, ConvRow, CONV_COLUMNS, MSG_COLUMNS};
use crate::domain::query::Query;
use crate::store::{QueryHit, StoreResult};

/// Rows read per statement when scanning.
const CHUNK: i64 = 512;

/// How a query finds its candidates.
enum Plan {
    Ids(Vec<String>),
    Member(String),
    /// An indexed column equal to a string.
    Column(&'static str, String),
    /// `attr` holding a leaf: the documents it contains, the leaf itself or an array
    /// holding it.
    Attr(Value, Value),
    /// Conversations in `lm` order (descending if set), read until the page is full.
    ByLm(bool),
    All,
}

/// `{"a": {"b": leaf}}` for the path `attr.a.b`.
fn nested(path: &str, leaf: Value) -> Value {
    let keys: Vec<&str> = path.split('.').skip(1).collect();
    keys.into_iter()
        .rev()
        .fold(leaf, |inner, key| json!({ key: inner }))
}

fn plan(q: &Query) -> Plan {
    if let Some(ids) = q.object_ids() {
        return Plan::Ids(ids);
    }
    if let Some(member) = q.member() {
        return Plan::Member(member);
    }
    for (path, value) in q.equalities() {
        match (path, value) {
            ("name", Value::String(s)) => return Plan::Column("name", s.clone()),
            ("c", Value::String(s)) => return Plan::Column("c", s.clone()),
            (p, Value::String(_) | Value::Number(_) | Value::Bool(_)) if p.starts_with("attr.") => {
                return Plan::Attr(nested(p, value.clone()), nested(p, json!([value])));
            }
            _ => {}
        }
    }
    match q.lm_order() {
        Some(descending) if q.sort.len() == 1 => Plan::ByLm(descending),
        _ => Plan::All,
    }
}

async fn rows(c: &Client, sql: &str, args: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<ConvRow>> {
    let rows = c.query(sql, args).await.map_err(pg)?;
    Ok(rows.iter().map(conv_from_row).collect())
}

/// The matching rows with their documents.
fn matching(q: &Query, rows: Vec<ConvRow>) -> Vec<(Value, ConvRow)> {
    rows.into_iter()
        .filter_map(|row| {
            let doc = row.conv.match_doc();
            q.matches(&doc).then_some((doc, row))
        })
        .collect()
}

pub async fn query(c: &Client, q: &Query) -> StoreResult<Vec<QueryHit>> {
    let select = format!("SELECT {CONV_COLUMNS} FROM conversations");
    let wanted = q.skip.saturating_add(q.limit);
    let candidates = match plan(q) {
        Plan::ByLm(descending) => {
            // Already in the final order (ties by creation): stop once the page is full.
            let order = if descending {
                "DESC NULLS LAST"
            } else {
                "ASC NULLS FIRST"
            };
            let sql = format!("{select} ORDER BY lm {order}, num ASC LIMIT $1 OFFSET $2");
            let mut hits = Vec::new();
            let mut offset = 0i64;
            while hits.len() < wanted {
                let chunk = rows(c, &sql, &[&CHUNK, &offset]).await?;
                let done = (chunk.len() as i64) < CHUNK;
                offset += CHUNK;
                hits.extend(matching(q, chunk));
                if done {
                    break;
                }
            }
            hits.truncate(wanted);
            let page = hits.into_iter().skip(q.skip).collect();
            return finish(c, q, page).await;
        }
        Plan::Ids(ids) => {
            let sql = format!(r#"{select} WHERE "objectId" = ANY($1)"#);
            rows(c, &sql, &[&ids]).await?
        }
        Plan::Member(member) => {
            let sql =
                format!("{select} WHERE num IN (SELECT conv FROM members WHERE client_id = $1)");
            rows(c, &sql, &[&member]).await?
        }
        Plan::Column(column, value) => {
            rows(c, &format!("{select} WHERE {column} = $1"), &[&value]).await?
        }
        Plan::Attr(leaf, in_array) => {
            let sql = format!("{select} WHERE attr @> $1 OR attr @> $2");
            rows(c, &sql, &[&Json(leaf), &Json(in_array)]).await?
        }
        Plan::All => {
            let sql = format!("{select} WHERE num > $1 ORDER BY num LIMIT $2");
            let mut all = Vec::new();
            let mut after = 0i64;
            loop {
                let chunk = rows(c, &sql, &[&after, &CHUNK]).await?;
                let done = (chunk.len() as i64) < CHUNK;
                after = chunk.last().map_or(after, |r| r.num);
                all.extend(matching(q, chunk));
                if done {
                    break;
                }
            }
            return page(c, q, all).await;
        }
    };
    page(c, q, matching(q, candidates)).await
}

/// Sorts the hits and keeps the page.
async fn page(
    c: &Client,
    q: &Query,
    mut hits: Vec<(Value, ConvRow)>,
) -> StoreResult<Vec<QueryHit>> {
    hits.sort_by(|(a, ra), (b, rb)| q.compare(a, b).then(ra.num.cmp(&rb.num)));
    let page = hits.into_iter().skip(q.skip).take(q.limit).collect();
    finish(c, q, page).await
}

/// The page, with the last message of each conversation when asked.
async fn finish(c: &Client, q: &Query, hits: Vec<(Value, ConvRow)>) -> StoreResult<Vec<QueryHit>> {
    let mut last = std::collections::HashMap::new();
    if q.with_last_message {
        let (nums, seqs): (Vec<i64>, Vec<i64>) = hits
            .iter()
            .filter(|(_, r)| r.last_seq > 0)
            .map(|(_, r)| (r.num, r.last_seq))
            .unzip();
        if !nums.is_empty() {
            let sql = format!(
                "SELECT m.conv, {MSG_COLUMNS} FROM messages m
                 JOIN unnest($1::bigint[], $2::bigint[]) AS k(kconv, kseq)
                   ON m.conv = k.kconv AND m.seq = k.kseq"
            );
            for row in c.query(&sql, &[&nums, &seqs]).await.map_err(pg)? {
                last.insert(row.get::<_, i64>(0), row);
            }
        }
    }
    Ok(hits
        .into_iter()
        .map(|(_, row)| {
            let msg = last.get(&row.num).map(|r| {
                let cid: Arc<str> = Arc::from(row.conv.id.as_str());
                message_from_row(&cid, r, 1)
            });
            (row.conv, msg)
        })
        .collect())
}
