//! The subset of LeanCloud's IM REST API that backends call (`docs/rest.md`):
//! history, sending in a client's name, conversation lookup and presence, with the
//! app's master key. Each request is answered and the connection closed.

mod auth;
mod classes;
mod history;
mod presence;
mod record;
mod request;
mod sdk;
mod send;

use serde_json::{json, Value};
use tokio::net::TcpStream;

use self::request::Request;
use crate::router::respond;
use crate::server::Shared;
use crate::service::Failure;
use crate::time::now_ms;

/// A refused request: its HTTP status and LeanCloud's `{"code","error"}` body.
#[derive(Debug)]
pub struct Error {
    status: u16,
    code: i64,
    error: String,
}

impl Error {
    fn new(status: u16, code: i64, error: impl Into<String>) -> Self {
        Error {
            status,
            code,
            error: error.into(),
        }
    }

    /// A bad parameter (LeanCloud's code 1).
    fn bad_request(error: impl Into<String>) -> Self {
        Error::new(400, 1, error)
    }

    /// A documented LeanCloud call (or option) that leanrt-server does not serve: a
    /// 400, so that clients do not retry it as they would a 5xx.
    fn unsupported(error: impl Into<String>) -> Self {
        Error::new(400, 1, error)
    }

    fn not_found(error: impl Into<String>) -> Self {
        Error::new(404, 101, error)
    }
}

/// A service failure as a REST error: its IM code, the status its kind calls for.
impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        use leanrt_protocol::ErrorCode as E;
        let status = match f.code {
            E::ConversationNotFound => 404,
            E::FrameTooLong => 413,
            E::ConversationApiFailed | E::ConversationLogFailed => 503,
            _ => 400,
        };
        let error = f.detail.unwrap_or_else(|| f.code.reason().to_owned());
        Error::new(status, i64::from(f.code.code()), error)
    }
}

type Reply = Result<Value, Error>;

fn status_line(status: u16) -> &'static str {
    match status {
        200 => "200 OK",
        201 => "201 Created",
        400 => "400 Bad Request",
        401 => "401 Unauthorized",
        404 => "404 Not Found",
        405 => "405 Method Not Allowed",
        413 => "413 Payload Too Large",
        503 => "503 Service Unavailable",
        _ => "500 Internal Server Error",
    }
}

/// Whether a request path belongs to the REST API.
pub fn is_rest_path(path: &str) -> bool {
    path.starts_with("/1.1/") || path.starts_with("/1.2/")
}

/// Answers the REST request whose head was read; `read` holds the bytes read past it.
pub async fn serve(
    mut stream: TcpStream,
    shared: &Shared,
    method: &str,
    target: &str,
    headers: Vec<(String, String)>,
    read: Vec<u8>,
) {
    let reply = match Request::read(&mut stream, method, target, headers, read).await {
        Ok(req) => handle(shared, &req).await,
        Err(e) => Err(e),
    };
    let (status, body) = match reply {
        Ok(answer) => answer,
        Err(e) => (e.status, json!({"code": e.code, "error": e.error})),
    };
    respond(&mut stream, status_line(status), &body.to_string()).await;
}

async fn handle(shared: &Shared, req: &Request) -> Result<(u16, Value), Error> {
    let service = &shared.service;
    let path: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    if sdk::is_sdk_call(&req.method, &path) {
        return sdk::notifications(service, req).map(|b| (200, b));
    }
    let app = auth::authenticate(
        req,
        |id| service.apps.rest_key(id),
        now_ms(),
        service.limits.signature_window,
    )?;
    let reply = match (req.method.as_str(), &path[..]) {
        // Creating answers 201, as LeanCloud's class API does.
        ("POST", ["1.1", "classes", "_Conversation"]) => {
            classes::create(service, req, false).await.map(|b| (201, b))
        }
        ("POST", ["1.2", "rtm", "conversations" | "chatrooms"]) => {
            classes::create(service, req, true).await.map(|b| (201, b))
        }
        _ => route(shared, req, &path).await.map(|b| (200, b)),
    };
    if let Err(e) = &reply {
        tracing::debug!(app, method = req.method, path = ?path, code = e.code, "REST refused");
    }
    reply
}

async fn route(shared: &Shared, req: &Request, path: &[&str]) -> Reply {
    let service = &shared.service;
    match (req.method.as_str(), path) {
        ("GET", ["1.2", "rtm", "conversations" | "chatrooms", cid, "messages"]) => {
            history::v1_2(service, req, cid).await
        }
        ("GET", ["1.1", "rtm", "messages", "history" | "logs"]) => {
            history::v1_1(service, req).await
        }
        ("GET", ["1.2", "rtm", "messages"]) => history::across_v1_2(service, req, None).await,
        ("GET", ["1.2", "rtm", "clients", client, "messages"]) => {
            history::across_v1_2(service, req, Some(client)).await
        }
        ("POST", ["1.2", "rtm", "conversations" | "chatrooms", cid, "messages"]) => {
            send::v1_2(service, req, cid).await
        }
        ("POST", ["1.1", "rtm", "messages"]) => send::v1_1(service, req).await,
        ("GET", ["1.2", "rtm", "conversations" | "chatrooms", cid])
        | ("GET", ["1.1", "classes", "_Conversation", cid]) => classes::get(service, cid).await,
        ("PUT", ["1.2", "rtm", "conversations" | "chatrooms", cid])
        | ("PUT", ["1.1", "classes", "_Conversation", cid]) => {
            classes::update(service, req, cid).await
        }
        ("DELETE", ["1.2", "rtm", "conversations" | "chatrooms", cid])
        | ("DELETE", ["1.1", "classes", "_Conversation", cid]) => {
            classes::delete(service, cid).await
        }
        (
            "GET",
            ["1.2", "rtm", "conversations" | "chatrooms"] | ["1.1", "classes", "_Conversation"],
        ) => classes::list(service, req).await,
        ("GET", ["1.1", "scan", "classes", "_Conversation"]) => classes::scan(service, req).await,
        ("GET", ["1.2", "rtm", "conversations", cid, "members"]) => {
            classes::members(service, cid).await
        }
        ("POST", ["1.2", "rtm", "conversations", cid, "members"]) => {
            classes::change_members(service, req, cid, true).await
        }
        ("DELETE", ["1.2", "rtm", "conversations", cid, "members"]) => {
            classes::change_members(service, req, cid, false).await
        }
        ("POST", ["1.2", "rtm", "clients", "check-online"]) => {
            presence::online(service, req, "client_ids").await
        }
        ("POST", ["1.2", "rtm", "clients", client, "kick"]) => {
            presence::kick(service, req, client).await
        }
        ("POST", ["1.1", "rtm", "client", "kick"]) => {
            let client = req.param(&["client_id"]).unwrap_or_default();
            presence::kick(service, req, &client).await
        }
        ("GET", ["1.2", "rtm", "clients", client, "unread-count"]) => {
            let cid = req.param(&["conv_id"]);
            presence::unread(service, client, cid.as_deref()).await
        }
        ("GET", ["1.1", "rtm", "messages", "unread", client]) => {
            presence::unread(service, client, None).await
        }
        ("GET", ["1.1", "rtm", "messages", "unread", client, cid]) => {
            presence::unread(service, client, Some(cid)).await
        }
        ("POST", ["1.1", "rtm", "online"]) => presence::online(service, req, "peers").await,
        ("GET", ["1.2", "rtm", "chatrooms", cid, "members", "online-count"]) => {
            presence::room_count(service, cid).await
        }
        ("GET", ["1.2", "rtm", "chatrooms", cid, "members"]) => {
            presence::room_members(service, cid).await
        }
        ("GET", ["1.1", "rtm", "transient_group", which @ ("onlines" | "members")]) => {
            let gid = req
                .param(&["gid"])
                .ok_or_else(|| Error::bad_request("gid is required"))?;
            match *which {
                "onlines" => presence::room_count(service, &gid).await,
                _ => presence::room_members(service, &gid).await,
            }
        }
        _ => Err(Error::not_found(format!(
            "{} /{} is not served by leanrt-server (see docs/rest.md)",
            req.method,
            path.join("/")
        ))),
    }
}
