//! The v3 dialect of LeanCloud's current SDKs: protobuf frames decoded to their v2
//! shape ([`leanrt_protocol::v3::codec`]), the few commands v2 lacks answered here,
//! everything else handled by the v2 dialect's handlers ([`crate::json`]), and every
//! outbound frame encoded back. One set of domain rules serves both dialects.

use base64::Engine as _;
use leanrt_protocol::v3::{codec, Subprotocol};
use leanrt_protocol::ErrorCode;
use serde_json::{json, Map, Number, Value};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::auth::session_token;
use crate::connection::{Conn, Dialect};
use crate::json;
use crate::service::{Failure, SessionCtx};
use crate::time::now_ms;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Commands v3 clients send without `i` that leanrt does not act on yet; they are
/// accepted quietly (a push of `error` without `i` is a connection error to the SDKs).
const QUIET: &[&str] = &["read", "report", "login", "logout", "patch", "presence"];

/// Handles a base64 text frame (`lc.proto2base64.*`).
pub fn dispatch_text(conn: &mut Conn, text: &str) {
    match BASE64.decode(text.trim()) {
        Ok(bytes) => dispatch(conn, &bytes),
        Err(e) => conn.fail(None, bad(format!("a text frame must be base64: {e}"))),
    }
}

/// Handles one `GenericCommand`.
pub fn dispatch(conn: &mut Conn, bytes: &[u8]) {
    let frame = match codec::decode(bytes) {
        Ok(frame) => frame,
        Err(e) => {
            let i = e.i.map(serde_json::Number::from);
            return conn.fail(i.as_ref(), bad(e.reason));
        }
    };
    let i = frame.get("i").and_then(Value::as_number).cloned();
    if let Some(peer) = further_session(conn, &frame) {
        return route(conn, peer, &frame, bytes, i);
    }
    let text = |key: &str| frame.get(key).and_then(Value::as_str);
    match (text("cmd"), text("op")) {
        (None, _) => conn.fail(i.as_ref(), bad("cmd is required".into())),
        (Some("echo"), _) => conn.reply(i.as_ref(), json!({"cmd": "echo"})),
        (Some("session"), Some("refresh")) => match conn.session() {
            Ok(session) => {
                let reply = with_token(json!({"cmd": "session", "op": "refreshed"}), session);
                conn.reply(i.as_ref(), reply);
            }
            Err(f) => conn.fail(i.as_ref(), f),
        },
        (Some("ack"), _) if i.is_none() && frame.get("mid").is_none() => ack_range(conn, &frame),
        (Some(cmd), _) if i.is_none() && QUIET.contains(&cmd) => {}
        _ => json::dispatch(conn, &Value::Object(frame).to_string()),
    }
}

/// The clientId of a frame for another session than this connection's own: its
/// `peerId` names one, once this connection has (or is opening) a session.
fn further_session(conn: &Conn, frame: &Map<String, Value>) -> Option<String> {
    let peer = frame.get("peerId").and_then(Value::as_str)?;
    let own = match conn.session() {
        Ok(session) => &*session.client == peer,
        Err(_) => !conn.opening,
    };
    (!own).then(|| peer.to_owned())
}

/// Hands a frame to the further session of `peer`, opening one for `session open`.
fn route(
    conn: &mut Conn,
    peer: String,
    frame: &Map<String, Value>,
    bytes: &[u8],
    i: Option<Number>,
) {
    let Dialect::V3(protocol) = conn.dialect else {
        return;
    };
    let message = if protocol.base64 {
        Message::text(BASE64.encode(bytes))
    } else {
        Message::binary(bytes.to_vec())
    };
    if conn.subs.forward(&peer, message.clone()) {
        return;
    }
    let opening = frame.get("cmd").and_then(Value::as_str) == Some("session")
        && frame.get("op").and_then(Value::as_str) == Some("open");
    let node = conn.id.node.clone();
    let failure: Failure = if !opening {
        ErrorCode::SessionRequired.into()
    } else if conn
        .subs
        .open(&conn.service, &node, conn.dialect, &peer)
        .is_err()
    {
        Failure::with(
            ErrorCode::TooManyRequests,
            "too many sessions on this connection",
        )
    } else if conn.subs.forward(&peer, message) {
        return;
    } else {
        ErrorCode::InternalError.into()
    };
    let mut reply = crate::json::render::failure(&failure, false);
    if let Some(i) = i {
        reply["i"] = Value::Number(i);
    }
    conn.send_to(&peer, &reply);
}

/// A recipient's `ack {cid, fromts, tots}`: every message of the range sent here.
fn ack_range(conn: &mut Conn, frame: &Map<String, Value>) {
    let cid = frame.get("cid").and_then(Value::as_str);
    let from = frame.get("fromts").and_then(Value::as_i64);
    let to = frame.get("tots").and_then(Value::as_i64);
    if let (Some(cid), Some(from), Some(to)) = (cid, from, to) {
        conn.ack_range(cid, from, to);
    }
}

fn bad(detail: String) -> Failure {
    Failure::with(ErrorCode::InternalError, detail)
}

/// `frame` with a fresh session token (`st`, `stTtl`) for `session`.
fn with_token(mut frame: Value, session: &SessionCtx) -> Value {
    let key = session.master_key.as_deref().unwrap_or_default();
    let st = session_token::issue(key, &session.app_id, &session.client, now_ms());
    frame["st"] = json!(st);
    frame["stTtl"] = json!(session_token::TTL_SECS);
    frame
}

/// A frame of v2 JSON text as a v3 message: `session opened` also carries the
/// session token and the server time, which the SDKs need to reconnect.
pub fn outbound(
    protocol: Subprotocol,
    text: &Utf8Bytes,
    session: Option<&SessionCtx>,
) -> Option<Message> {
    let mut frame: Value = match serde_json::from_str(text) {
        Ok(frame) => frame,
        Err(e) => {
            tracing::warn!(error = %e, "an outbound frame is not JSON");
            return None;
        }
    };
    if let (Some(session), true) = (
        session,
        frame["cmd"] == "session" && frame["op"] == "opened",
    ) {
        frame = with_token(frame, session);
        frame["serverTs"] = json!(now_ms());
    }
    match codec::encode(&frame) {
        Ok(bytes) if protocol.base64 => Some(Message::text(BASE64.encode(bytes))),
        Ok(bytes) => Some(Message::binary(bytes)),
        Err(e) => {
            tracing::warn!(error = %e, "a frame has no v3 form");
            None
        }
    }
}
