//! Sending in a client's name: `POST /1.2/rtm/{conversations|chatrooms}/{id}/messages`
//! and the v1.1 `POST /1.1/rtm/messages`. Both answer `{"msg-id","timestamp"}` once a
//! stored message is committed.

use serde_json::{json, Value};

use super::request::Request;
use super::{Error, Reply};
use crate::service::{SendAs, Service};

pub async fn v1_2(service: &Service, req: &Request, cid: &str) -> Reply {
    let from = required(req, "from_client")?;
    let transient = req.flag("transient")?;
    send(service, req, cid.to_owned(), from, transient).await
}

/// v1.1: `from_peer`, `conv_id`; `transient` defaults to true there, as LeanCloud
/// kept it for backward compatibility.
pub async fn v1_1(service: &Service, req: &Request) -> Reply {
    if req.body.get("to_peers").is_some_and(|v| !v.is_null()) {
        return Err(Error::unsupported(
            "to_peers (messages from a system conversation to some of its subscribers) \
             is not supported by leanrt-server",
        ));
    }
    let from = required(req, "from_peer")?;
    let cid = required(req, "conv_id")?;
    let transient = req.param(&["transient"]).is_none() || req.flag("transient")?;
    send(service, req, cid, from, transient).await
}

fn required(req: &Request, name: &str) -> Result<String, Error> {
    req.param(&[name])
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::bad_request(format!("{name} is required")))
}

async fn send(
    service: &Service,
    req: &Request,
    cid: String,
    from: String,
    transient: bool,
) -> Reply {
    // A message given as a JSON object is stored as its JSON text, as it was sent.
    let data = match (req.body.get("message"), &req.raw_message) {
        (Some(Value::String(s)), _) => s.clone(),
        (Some(Value::Object(_) | Value::Array(_)), Some(raw)) => raw.clone(),
        _ => required(req, "message")?,
    };
    let sent = service
        .send_as(SendAs {
            cid,
            from,
            data,
            transient,
        })
        .await?;
    Ok(json!({"msg-id": sent.id, "timestamp": sent.timestamp}))
}
