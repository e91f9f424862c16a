//! History: `GET /1.2/rtm/{conversations|chatrooms}/{id}/messages`, the whole app
//! (`GET /1.2/rtm/messages`), one sender (`GET /1.2/rtm/clients/{id}/messages`), and
//! the v1.1 `GET /1.1/rtm/messages/history` (also `…/logs`) with `convid`, `from` or
//! neither. Newest first unless `reversed`.

use leanrt_protocol::command::Bound;
use serde_json::Value;

use super::record::history_record;
use super::request::Request;
use super::{Error, Reply};
use crate::domain::StoredMessage;
use crate::service::Service;
use crate::store::{AcrossRange, At, LogRange};

/// Records per page: LeanCloud's default and maximum.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// The paging parameters every history endpoint takes.
struct Paging {
    start: Bound,
    till: Bound,
    include_start: bool,
    include_stop: bool,
    reversed: bool,
    limit: usize,
}

impl Paging {
    /// `start_names`: the start time's parameter, then older names (`max_ts`).
    fn read(req: &Request, start_names: &[&str]) -> Result<Paging, Error> {
        let limit = req.int(&["limit"])?.unwrap_or(DEFAULT_LIMIT);
        if limit < 1 {
            return Err(Error::bad_request("limit must be at least 1"));
        }
        Ok(Paging {
            start: Bound {
                timestamp: req.int(start_names)?,
                mid: req.param(&["msgid"]),
            },
            till: Bound {
                timestamp: req.int(&["till_timestamp"])?.filter(|t| *t > 0),
                mid: req.param(&["till_msgid"]),
            },
            include_start: req.flag("include_start")?,
            include_stop: req.flag("include_stop")?,
            reversed: req.flag("reversed")?,
            limit: limit.min(MAX_LIMIT) as usize,
        })
    }
}

fn records(messages: &[StoredMessage]) -> Value {
    Value::Array(messages.iter().map(history_record).collect())
}

pub async fn v1_2(service: &Service, req: &Request, cid: &str) -> Reply {
    conversation(service, cid, Paging::read(req, &["timestamp"])?).await
}

/// The whole app (`from: None`) or one sender's messages.
pub async fn across_v1_2(service: &Service, req: &Request, from: Option<&str>) -> Reply {
    let paging = Paging::read(req, &["timestamp"])?;
    across(service, from.map(str::to_owned), paging).await
}

/// v1.1: one conversation (`convid`), one sender (`from`) or the whole app;
/// `max_ts` is the older name of `timestamp`.
pub async fn v1_1(service: &Service, req: &Request) -> Reply {
    let paging = Paging::read(req, &["timestamp", "max_ts"])?;
    match req.param(&["convid"]) {
        Some(cid) => conversation(service, &cid, paging).await,
        None => across(service, req.param(&["from"]), paging).await,
    }
}

async fn conversation(service: &Service, cid: &str, p: Paging) -> Reply {
    // Newest first walks down from the start; reversed walks up from it.
    let (before, after, include_before, include_after) = if p.reversed {
        (p.till, p.start, p.include_stop, p.include_start)
    } else {
        (p.start, p.till, p.include_start, p.include_stop)
    };
    let range = LogRange {
        cid: cid.to_owned(),
        requester: String::new(),
        before,
        after,
        limit: p.limit,
        oldest: p.reversed,
        include_before,
        include_after,
    };
    let mut messages = service.history(range).await?;
    if !p.reversed {
        messages.reverse();
    }
    Ok(records(&messages))
}

/// A bound across conversations: it needs a time (a message id alone names a place
/// in one conversation only).
fn at(bound: Bound, name: &str) -> Result<Option<At>, Error> {
    match bound {
        Bound {
            timestamp: Some(timestamp),
            mid,
        } => Ok(Some(At { timestamp, mid })),
        Bound { mid: Some(_), .. } => Err(Error::bad_request(format!(
            "{name}: a message id needs its timestamp"
        ))),
        _ => Ok(None),
    }
}

async fn across(service: &Service, from: Option<String>, p: Paging) -> Reply {
    let range = AcrossRange {
        from,
        start: at(p.start, "msgid")?,
        till: at(p.till, "till_msgid")?,
        include_start: p.include_start,
        include_stop: p.include_stop,
        reversed: p.reversed,
        limit: p.limit,
    };
    Ok(records(&service.history_across(range).await?))
}
