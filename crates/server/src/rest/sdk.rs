//! REST calls that the current SDKs make by themselves, authorised by a session
//! token (`X-LC-IM-Session-Token`, the `st` of a v3 login) instead of the master key.

use serde_json::{json, Value};

use super::request::Request;
use super::Error;
use crate::auth::session_token;
use crate::service::Service;
use crate::time::now_ms;

/// Whether a request is one of these calls.
pub fn is_sdk_call(method: &str, path: &[&str]) -> bool {
    matches!((method, path), ("GET", ["1.1", "rtm", "notifications"]))
}

/// The clientId whose session token the request carries.
fn holder<'r>(service: &Service, req: &'r Request) -> Result<&'r str, Error> {
    let unauthorized = || Error::new(401, 401, "Unauthorized.");
    let app_id = req.header("x-lc-id").ok_or_else(unauthorized)?;
    let key = session_token::key_of(service.apps.check(app_id)).ok_or_else(unauthorized)?;
    let token = req
        .header("x-lc-im-session-token")
        .ok_or_else(unauthorized)?;
    session_token::holder(key, app_id, token, now_ms())
        .map(|h| h.client)
        .ok_or_else(unauthorized)
}

/// `GET /1.1/rtm/notifications`: the notifications a client missed while offline.
/// leanrt-server keeps none (membership changes are pushed live only), so the list
/// is empty; the SDKs then carry on as after a successful sync.
pub fn notifications(service: &Service, req: &Request) -> Result<Value, Error> {
    holder(service, req)?;
    Ok(json!({"hasMore": false, "notifications": []}))
}
