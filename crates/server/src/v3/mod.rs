//! The v3 dialect of LeanCloud's current SDKs: protobuf frames decoded to their v2
//! shape ([`leanrt_protocol::v3::codec`]), the few commands v2 lacks answered here,
//! everything else handled by the v2 dialect's handlers ([`crate::json`]), and every
//! outbound frame encoded back. One set of domain rules serves both dialects.

use base64::Engine as _;
use leanrt_protocol::command::Envelope;
use leanrt_protocol::v3::{codec, quick, Subprotocol};
use leanrt_protocol::ErrorCode;
use serde_json::{json, Map, Number, Value};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::auth::session_token;
use crate::connection::{Conn, Dialect};
use crate::domain::event::Push;
use crate::domain::{Extras, StoredMessage};
use crate::json;
use crate::service::{Failure, PatchRequest, SessionCtx};
use crate::time::now_ms;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Commands v3 clients send without `i` that leanrt does not act on yet; they are
/// accepted quietly (a push of `error` without `i` is a connection error to the SDKs).
const QUIET: &[&str] = &["report", "login", "logout", "patch", "presence"];

/// Handles a base64 text frame (`lc.proto2base64.*`).
pub fn dispatch_text(conn: &mut Conn, text: &str) {
    match BASE64.decode(text.trim()) {
        Ok(bytes) => dispatch(conn, &bytes),
        Err(e) => conn.fail(None, bad(format!("a text frame must be base64: {e}"))),
    }
}

/// Handles one `GenericCommand`.
pub fn dispatch(conn: &mut Conn, bytes: &[u8]) {
    // Most frames of a busy receiver are acks: read them the quick way.
    if let Some(ack) = quick::ack(bytes) {
        let own = ack
            .peer_id
            .as_deref()
            .is_none_or(|peer| conn.session().is_ok_and(|s| &*s.client == peer));
        if own {
            return apply_ack(conn, &ack.cid, ack.mid.as_deref(), ack.from.zip(ack.to));
        }
    }
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
        (Some("ack"), _) if i.is_none() => ack(conn, &frame),
        (Some("read"), _) => read(conn, &frame),
        (Some("patch"), Some("modify")) if i.is_some() => patch(conn, &frame, i),
        (Some(cmd), _) if i.is_none() && QUIET.contains(&cmd) => {}
        _ => json::dispatch_parsed(conn, Envelope::from_map(frame)),
    }
}

/// The clientId of a frame for another session than this connection's own: its
/// `peerId` names one that runs beside it, or a new one once this connection has
/// (or is opening) a session of its own.
fn further_session(conn: &Conn, frame: &Map<String, Value>) -> Option<String> {
    let peer = frame.get("peerId").and_then(Value::as_str)?;
    if conn.subs.has(peer) {
        return Some(peer.to_owned());
    }
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

/// `read {convs: [{cid, timestamp}]}` (or `cid`, `cids`): each conversation read up
/// to its timestamp, or wholly. No reply; read receipts go to the senders.
fn read(conn: &mut Conn, frame: &Map<String, Value>) {
    let mut reads: Vec<(String, Option<i64>)> = Vec::new();
    let tuples = frame.get("convs").and_then(Value::as_array);
    for tuple in tuples.into_iter().flatten() {
        if let Some(cid) = tuple.get("cid").and_then(Value::as_str) {
            reads.push((
                cid.to_owned(),
                tuple.get("timestamp").and_then(Value::as_i64),
            ));
        }
    }
    let single = frame.get("cid").and_then(Value::as_str).map(str::to_owned);
    let many = frame
        .get("cids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let named = single
        .into_iter()
        .chain(many.filter_map(|c| c.as_str().map(str::to_owned)));
    reads.extend(named.map(|cid| (cid, None)));
    let (Ok(session), false) = (conn.session().cloned(), reads.is_empty()) else {
        return;
    };
    let service = conn.service.clone();
    conn.begin(Box::pin(async move {
        for (cid, upto) in reads {
            match service.read(&session, &cid, upto).await {
                Ok(notices) => service.notify(notices).await,
                Err(e) => tracing::debug!(error = %e, cid, "read failed"),
            }
        }
        Box::new(|_: &mut Conn| {}) as crate::connection::Then
    }));
}

/// `patch modify {patches: [{cid, mid, data | binaryMsg | recall, mention*}]}`: the
/// sender changes or recalls its messages; the reply is `patch modified`, then the
/// other members are told.
fn patch(conn: &mut Conn, frame: &Map<String, Value>, i: Option<Number>) {
    let mut requests = Vec::new();
    for p in frame
        .get("patches")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = |key: &str| p.get(key).and_then(Value::as_str).map(str::to_owned);
        let flag = |key: &str| p.get(key).and_then(Value::as_bool).unwrap_or(false);
        let (Some(cid), Some(mid)) = (text("cid"), text("mid")) else {
            return conn.fail(i.as_ref(), bad("a patch names its cid and mid".into()));
        };
        let (data, binary) = (text("data"), text("binaryMsg"));
        let content = match (flag("recall"), data.is_some() || binary.is_some()) {
            (true, _) => None,
            (false, true) => Some(Extras::content(
                data.unwrap_or_default(),
                binary,
                strings(p.get("mentionPids")),
                flag("mentionAll"),
            )),
            (false, false) => {
                return conn.fail(i.as_ref(), bad("a patch has data or binaryMsg".into()))
            }
        };
        requests.push(PatchRequest { cid, mid, content });
    }
    let Ok(session) = conn.session().cloned() else {
        return conn.fail(i.as_ref(), ErrorCode::SessionRequired.into());
    };
    let service = conn.service.clone();
    conn.begin(Box::pin(async move {
        let mut last = None;
        for request in requests {
            match service.patch(&session, request).await {
                Ok((at, notices)) => {
                    service.notify(notices).await;
                    last = Some(at);
                }
                Err(f) => {
                    return Box::new(move |conn: &mut Conn| conn.fail(i.as_ref(), f))
                        as crate::connection::Then
                }
            }
        }
        Box::new(move |conn: &mut Conn| {
            let reply = json!({"cmd": "patch", "op": "modified", "lastPatchTime": last});
            conn.reply(i.as_ref(), reply);
        }) as crate::connection::Then
    }));
}

/// A recipient's `ack`: of one message (`mid`), or of every message of a range
/// sent here (`fromts`/`tots`). Anything else in it is ignored, as v2 does.
fn ack(conn: &mut Conn, frame: &Map<String, Value>) {
    let text = |key: &str| frame.get(key).and_then(Value::as_str);
    let time = |key: &str| frame.get(key).and_then(Value::as_i64);
    if let Some(cid) = text("cid") {
        apply_ack(conn, cid, text("mid"), time("fromts").zip(time("tots")));
    }
}

fn apply_ack(conn: &mut Conn, cid: &str, mid: Option<&str>, range: Option<(i64, i64)>) {
    match (mid, range) {
        (Some(mid), _) => conn.ack(cid, mid),
        (None, Some((from, to))) => conn.ack_range(cid, from, to),
        (None, None) => {}
    }
}

/// An array of strings (its other items skipped).
fn strings(v: Option<&Value>) -> Vec<String> {
    let items = v.and_then(Value::as_array).into_iter().flatten();
    items
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn bad(detail: String) -> Failure {
    Failure::with(ErrorCode::InternalError, detail)
}

/// `frame` with a fresh session token (`st`, `stTtl`) for `session`.
fn with_token(mut frame: Value, session: &SessionCtx) -> Value {
    let key = session.master_key.as_deref().unwrap_or_default();
    let device = session.device.as_ref();
    let st = session_token::issue(key, &session.app_id, &session.client, device, now_ms());
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
        Ok(bytes) => Some(framed(protocol, bytes)),
        Err(e) => {
            tracing::warn!(error = %e, "a frame has no v3 form");
            None
        }
    }
}

/// A push to `client`: its body is encoded once for every v3 recipient, and each
/// gets it with its own `peerId` appended.
pub fn push_frame(protocol: Subprotocol, push: &Push, client: &str) -> Option<Message> {
    let body = push.encoded(|| {
        let frame: Value = serde_json::from_str(push.rendered(json::render::event)).ok()?;
        codec::encode(&frame)
            .map_err(|e| tracing::warn!(error = %e, "a push has no v3 form"))
            .ok()
    })?;
    Some(framed(protocol, codec::with_peer(body, client)))
}

/// The ack of a message `client` sent, stored.
pub fn stored_ack(
    protocol: Subprotocol,
    i: Option<i64>,
    m: &StoredMessage,
    client: &str,
) -> Message {
    framed(
        protocol,
        quick::stored_ack(i, &m.id, m.timestamp, Some(client)),
    )
}

/// Bytes as this subprotocol frames them.
fn framed(protocol: Subprotocol, bytes: Vec<u8>) -> Message {
    if protocol.base64 {
        Message::text(BASE64.encode(bytes))
    } else {
        Message::binary(bytes)
    }
}
