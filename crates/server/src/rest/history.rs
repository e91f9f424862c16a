//! History: `GET /1.2/rtm/{conversations|chatrooms}/{id}/messages` and the v1.1
//! `GET /1.1/rtm/messages/history` (also `…/logs`), newest first unless `reversed`.

use leanrt_protocol::command::Bound;
use serde_json::Value;

use super::record::history_record;
use super::request::Request;
use super::{Error, Reply};
use crate::service::Service;
use crate::store::LogRange;

/// Records per page: LeanCloud's default and maximum.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

pub async fn v1_2(service: &Service, req: &Request, cid: &str) -> Reply {
    page(service, req, cid, &["timestamp"]).await
}

/// v1.1 pages one conversation (`convid`); `max_ts` is the older name of `timestamp`.
pub async fn v1_1(service: &Service, req: &Request) -> Reply {
    let Some(cid) = req.param(&["convid"]) else {
        return Err(Error::unsupported(
            "leanrt-server serves history per conversation only: pass convid",
        ));
    };
    page(service, req, &cid, &["timestamp", "max_ts"]).await
}

async fn page(service: &Service, req: &Request, cid: &str, start_names: &[&str]) -> Reply {
    let limit = req.int(&["limit"])?.unwrap_or(DEFAULT_LIMIT);
    if limit < 1 {
        return Err(Error::bad_request("limit must be at least 1"));
    }
    let start = Bound {
        timestamp: req.int(start_names)?,
        mid: req.param(&["msgid"]),
    };
    let till = Bound {
        timestamp: req.int(&["till_timestamp"])?.filter(|t| *t > 0),
        mid: req.param(&["till_msgid"]),
    };
    let (include_start, include_stop) = (req.flag("include_start")?, req.flag("include_stop")?);
    let reversed = req.flag("reversed")?;
    // Newest first walks down from the start; reversed walks up from it.
    let (before, after, include_before, include_after) = if reversed {
        (till, start, include_stop, include_start)
    } else {
        (start, till, include_start, include_stop)
    };
    let range = LogRange {
        cid: cid.to_owned(),
        requester: String::new(),
        before,
        after,
        limit: limit.min(MAX_LIMIT) as usize,
        oldest: reversed,
        include_before,
        include_after,
    };
    let mut messages = service.history(range).await?;
    if !reversed {
        messages.reverse();
    }
    Ok(Value::Array(messages.iter().map(history_record).collect()))
}
