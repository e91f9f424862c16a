//! The reads, on pooled connections: conversations, `conv query` narrowed by an
//! index and finished in memory, history, and what a login owes.

mod across;
mod query;

use std::sync::Arc;

use leanrt_protocol::command::Bound;
use tokio_postgres::Client;

pub use across::across;
pub use query::query;

use super::errors::pg;
use super::rows::{
    conv_from_row, message_from_row, ranges_from, ConvRow, CONV_COLUMNS, MSG_COLUMNS,
};
use crate::domain::{Refusal, StoredMessage};
use crate::store::{bounds, Admit, LogRange, Pending, PendingPage, StoreResult};

pub async fn conversation(c: &Client, cid: &str) -> StoreResult<Option<ConvRow>> {
    let st = format!(r#"SELECT {CONV_COLUMNS} FROM conversations WHERE "objectId" = $1"#);
    let row = c.query_opt(&st, &[&cid]).await.map_err(pg)?;
    Ok(row.as_ref().map(conv_from_row))
}

/// The first seq of `num` whose message is at `t` or later (`last_seq + 1` if none).
async fn first_seq_at(c: &Client, num: i64, last_seq: i64, t: i64) -> StoreResult<i64> {
    let row = c
        .query_opt(
            "SELECT seq FROM messages WHERE conv = $1 AND timestamp >= $2
             ORDER BY timestamp, seq LIMIT 1",
            &[&num, &t],
        )
        .await
        .map_err(pg)?;
    Ok(row.map_or(last_seq + 1, |r| r.get(0)))
}

/// A bound as the exclusive seq it stands for (see [`bounds::bound_seq`]).
async fn bound_seq(
    c: &Client,
    (num, last_seq): (i64, i64),
    bound: &Bound,
    upper: bool,
    inclusive: bool,
) -> StoreResult<Option<i64>> {
    let named = match &bound.mid {
        Some(mid) => c
            .query_opt(
                r#"SELECT seq FROM messages WHERE conv = $1 AND "msgId" = $2"#,
                &[&num, mid],
            )
            .await
            .map_err(pg)?
            .map(|r| r.get(0)),
        None => None,
    };
    let millisecond = match bound.timestamp {
        Some(t) => Some((
            first_seq_at(c, num, last_seq, t).await?,
            first_seq_at(c, num, last_seq, t.saturating_add(1)).await?,
        )),
        None => None,
    };
    Ok(bounds::bound_seq(named, millisecond, upper, inclusive))
}

pub async fn logs(c: &Client, range: &LogRange, admit: Admit) -> StoreResult<Vec<StoredMessage>> {
    let row = conversation(c, &range.cid)
        .await?
        .ok_or(Refusal::NotFound)?;
    admit(&row.conv, &range.requester)?;
    if range.limit == 0 {
        return Ok(Vec::new());
    }
    let at = (row.num, row.last_seq);
    let hi = bound_seq(c, at, &range.before, true, range.include_before)
        .await?
        .unwrap_or(row.last_seq + 1);
    let lo = bound_seq(c, at, &range.after, false, range.include_after)
        .await?
        .unwrap_or(0);
    if hi <= lo + 1 {
        return Ok(Vec::new());
    }
    let order = if range.oldest { "ASC" } else { "DESC" };
    let st = format!(
        "SELECT {MSG_COLUMNS} FROM messages WHERE conv = $1 AND seq > $2 AND seq < $3
         ORDER BY seq {order} LIMIT $4"
    );
    let limit = i64::try_from(range.limit).unwrap_or(i64::MAX);
    let rows = c
        .query(&st, &[&row.num, &lo, &hi, &limit])
        .await
        .map_err(pg)?;
    let cid: Arc<str> = Arc::from(range.cid.as_str());
    let mut out: Vec<StoredMessage> = rows.iter().map(|r| message_from_row(&cid, r, 0)).collect();
    if !range.oldest {
        out.reverse();
    }
    Ok(out)
}

pub async fn pending(c: &Client, client: &str, conversations: usize) -> StoreResult<Vec<Pending>> {
    let limit = i64::try_from(conversations).unwrap_or(i64::MAX);
    let rows = c
        .query(
            r#"SELECT c."objectId", m.acked, c.last_seq, m.ranges
               FROM members m JOIN conversations c ON c.num = m.conv
               WHERE m.client_id = $1 AND c.last_seq > m.acked
               ORDER BY c.lm DESC NULLS LAST, c.num DESC LIMIT $2"#,
            &[&client, &limit],
        )
        .await
        .map_err(pg)?;
    // Pushed oldest first: the conversation with the newest message comes last.
    Ok(rows
        .iter()
        .rev()
        .map(|r| Pending {
            cid: Arc::from(r.get::<_, &str>(0)),
            after: r.get(1),
            upto: r.get(2),
            acked: ranges_from(r.get(3)),
        })
        .collect())
}

pub async fn pending_page(
    c: &Client,
    client: &str,
    p: &Pending,
    limit: usize,
) -> StoreResult<PendingPage> {
    let Some(row) = conversation(c, &p.cid).await? else {
        return Ok(PendingPage {
            messages: Vec::new(),
            scanned_to: p.upto,
        });
    };
    let limit = limit.max(1);
    let st = format!(
        r#"SELECT {MSG_COLUMNS} FROM messages
           WHERE conv = $1 AND seq > $2 AND seq <= $3 AND "from" <> $4 ORDER BY seq LIMIT $5"#
    );
    let rows = c
        .query(
            &st,
            &[&row.num, &p.after, &p.upto, &client, &(limit as i64)],
        )
        .await
        .map_err(pg)?;
    let rows: Vec<StoredMessage> = rows
        .iter()
        .map(|r| message_from_row(&p.cid, r, 0))
        .collect();
    Ok(PendingPage::of(rows, p, limit))
}
