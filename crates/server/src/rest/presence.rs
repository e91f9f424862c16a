//! Who is online: `POST /1.2/rtm/clients/check-online` (`client_ids`), the v1.1
//! `POST /1.1/rtm/online` (`peers`), and the number of clients in a chat room.

use serde_json::{json, Value};

use super::request::Request;
use super::{Error, Reply};
use crate::service::Service;

/// ClientIds one request may ask about.
const MAX_IDS: usize = 20;

/// `{"results": [...]}`: the online ones among the ids asked about, in their order.
pub async fn online(service: &Service, req: &Request, field: &str) -> Reply {
    let ids: Vec<String> = match req.body.get(field) {
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| Error::bad_request(format!("{field} must be clientId strings")))?,
        _ => {
            return Err(Error::bad_request(format!(
                "{field} (an array) is required"
            )))
        }
    };
    if ids.len() > MAX_IDS {
        return Err(Error::bad_request(format!(
            "{field}: at most {MAX_IDS} clientIds"
        )));
    }
    let online = service.online(&ids).await;
    let results: Vec<&String> = ids
        .iter()
        .zip(online)
        .filter_map(|(id, on)| on.then_some(id))
        .collect();
    Ok(json!({ "results": results }))
}

/// `{"count": n}`: messages `client` is owed (in conversation `cid` only, if given).
pub async fn unread(service: &Service, client: &str, cid: Option<&str>) -> Reply {
    Ok(json!({ "count": service.unread(client, cid).await? }))
}

/// Longest kick `reason` LeanCloud takes.
const MAX_REASON: usize = 20;

/// Kicks every session of `client` (`{}`); `reason` is logged, as clients of the v2
/// protocol have nowhere to show it.
pub async fn kick(service: &Service, req: &Request, client: &str) -> Reply {
    if client.is_empty() {
        return Err(Error::bad_request("client_id is required"));
    }
    let reason = req.param(&["reason"]).unwrap_or_default();
    if reason.chars().count() > MAX_REASON {
        return Err(Error::bad_request(format!(
            "reason: at most {MAX_REASON} characters"
        )));
    }
    service.kick(client, &reason).await;
    Ok(json!({}))
}

/// Online members listed at most (LeanCloud's cap).
const MAX_ROOM_MEMBERS: usize = 50;

async fn chat_room(service: &Service, cid: &str) -> Result<(), Error> {
    service
        .find_conversation(cid)
        .await?
        .filter(|c| c.transient)
        .map(|_| ())
        .ok_or_else(|| Error::not_found(format!("no chat room {cid}")))
}

/// `{"result": n}`: distinct clientIds connected to chat room `cid`.
pub async fn room_count(service: &Service, cid: &str) -> Reply {
    chat_room(service, cid).await?;
    Ok(json!({ "result": service.room_count(cid).await }))
}

/// `{"result": [...]}`: up to 50 clientIds connected to chat room `cid`, sorted.
pub async fn room_members(service: &Service, cid: &str) -> Reply {
    chat_room(service, cid).await?;
    Ok(json!({ "result": service.room_clients(cid, MAX_ROOM_MEMBERS).await }))
}
