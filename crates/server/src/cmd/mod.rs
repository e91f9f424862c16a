//! One handler per client command (§4), and the dispatcher that validates frames and
//! turns failures into error replies (§6.9).

mod ack;
mod count;
pub mod direct;
mod logs;
mod members;
mod query;
mod session;
mod start;
mod update;

use leanrt_protocol::ErrorCode;
use serde_json::Value;

use crate::connection::Conn;
use crate::frame::{Failure, Request};
use crate::store::StoreError;

/// Longest accepted clientId, also for member lists (§6.11).
pub const MAX_CLIENT_ID: usize = 64;

/// Commands with an `op`; `direct`, `ack` and `logs` ignore theirs.
const KNOWN: [(&str, &str); 9] = [
    ("session", "open"),
    ("session", "query"),
    ("session", "close"),
    ("conv", "start"),
    ("conv", "add"),
    ("conv", "remove"),
    ("conv", "query"),
    ("conv", "count"),
    ("conv", "update"),
];

/// Handles one text frame.
pub async fn dispatch(conn: &mut Conn, text: &str) {
    let frame = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(frame)) => frame,
        Ok(_) => return conn.fail(None, Failure::bad("a frame must be a JSON object")),
        Err(_) => return conn.fail(None, Failure::bad("a frame must be JSON")),
    };
    let i = match frame.get("i") {
        None | Some(Value::Null) => None,
        Some(n @ Value::Number(_)) => Some(n.clone()),
        Some(_) => return conn.fail(None, Failure::bad("i must be a number")),
    };
    let (cmd, op) = match (frame.get("cmd"), frame.get("op")) {
        // Anything without a command is a heartbeat (§2.3).
        (None, _) => return conn.send_text("{}".into()),
        (Some(Value::String(cmd)), None | Some(Value::Null)) => (cmd.clone(), String::new()),
        (Some(Value::String(cmd)), Some(Value::String(op))) => (cmd.clone(), op.clone()),
        _ => return conn.fail(i.as_ref(), Failure::bad("cmd and op must be strings")),
    };
    let req = Request { cmd, op, frame, i };
    let is_direct = req.cmd == "direct";
    // A recipient's `ack` answers the server's own push (one per message delivered),
    // so it is not the client's traffic to limit: a large offline push would otherwise
    // have its acks refused and be pushed again at every login.
    if req.cmd != "ack" && !conn.rate.allow() {
        return respond(conn, &req, is_direct, ErrorCode::TooManyRequests.into());
    }
    let opening = req.cmd == "session" && req.op == "open";
    if conn.session.is_none() && !opening {
        if req.i.is_some() {
            return respond(conn, &req, is_direct, ErrorCode::SessionRequired.into());
        }
        conn.close = Some(ErrorCode::SessionRequired.code());
        return;
    }
    if !KNOWN.contains(&(req.cmd.as_str(), req.op.as_str()))
        && !matches!(req.cmd.as_str(), "direct" | "ack" | "logs")
    {
        let detail = format!("unknown command {:?} op {:?}", req.cmd, req.op);
        return conn.fail(req.i.as_ref(), Failure::bad(detail));
    }
    let needs_i = !(opening || req.cmd == "ack" || (is_direct && req.flag("transient")));
    if needs_i && req.i.is_none() {
        return conn.fail(None, Failure::bad("i is required"));
    }
    let result = match (req.cmd.as_str(), req.op.as_str()) {
        ("session", "open") => session::open(conn, &req).await,
        ("session", "query") => session::query(conn, &req),
        ("session", "close") => session::close(conn, &req),
        ("conv", "start") => start::start(conn, &req).await,
        ("conv", "add") => members::add(conn, &req).await,
        ("conv", "remove") => members::remove(conn, &req).await,
        ("conv", "query") => query::query(conn, &req).await,
        ("conv", "count") => count::count(conn, &req).await,
        ("conv", "update") => update::update(conn, &req).await,
        ("direct", _) => direct::direct(conn, &req).await,
        ("ack", _) => ack::ack(conn, &req),
        ("logs", _) => logs::logs(conn, &req).await,
        (cmd, op) => Err(Failure::bad(format!("unknown command {cmd:?} op {op:?}"))),
    };
    if let Err(failure) = result {
        respond(conn, &req, is_direct, failure);
    }
}

/// Reports a failure: an error ack for `direct`, else an error frame.
fn respond(conn: &mut Conn, req: &Request, is_direct: bool, failure: Failure) {
    if is_direct && req.i.is_some() {
        conn.fail_ack(req.i.as_ref(), failure);
    } else {
        conn.fail(req.i.as_ref(), failure);
    }
}

/// Member ids must be non-empty and at most 64 characters.
fn check_ids(ids: &[String]) -> Result<(), Failure> {
    match ids
        .iter()
        .find(|id| id.is_empty() || id.chars().count() > MAX_CLIENT_ID)
    {
        Some(id) => Err(Failure::bad(format!("invalid clientId {id:?}"))),
        None => Ok(()),
    }
}

/// The error for a failed conversation operation; `backend` for storage failures.
fn store_failure(e: StoreError, backend: ErrorCode) -> Failure {
    match e {
        StoreError::NotFound => ErrorCode::ConversationNotFound.into(),
        StoreError::NotMember => ErrorCode::ConversationUpdateRejected.into(),
        StoreError::Full => ErrorCode::ConversationFull.into(),
        StoreError::InvalidUpdate(detail) => {
            Failure::with(ErrorCode::ConversationUpdateFailed, detail)
        }
        StoreError::Backend(detail) => Failure::with(backend, detail),
    }
}
