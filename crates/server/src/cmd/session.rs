//! `session open`, `session query` (ping) and `session close` (§6.1), and offline
//! delivery after open (§6.5).

use leanrt_protocol::signature::Action;
use leanrt_protocol::ErrorCode;
use serde_json::{json, Value};

use crate::config::AppCheck;
use crate::connection::{Conn, Session};
use crate::frame::{Failure, Request};
use crate::ids::random_id;

use super::MAX_CLIENT_ID;
/// Ids considered by a ping (§6.1).
const PING_IDS: usize = 20;

pub async fn open(conn: &mut Conn, req: &Request) -> Result<(), Failure> {
    let app_id = match req.frame.get("appId") {
        Some(Value::String(s)) => s.clone(),
        _ => return refuse(conn, ErrorCode::AppNotAvailable),
    };
    let master_key = match conn.shared.apps.check(&app_id) {
        AppCheck::Unknown => return refuse(conn, ErrorCode::AppNotAvailable),
        AppCheck::Open => None,
        AppCheck::Signed { master_key } => Some(master_key.to_owned()),
    };
    let (client, anonymous) = match req.frame.get("peerId") {
        None | Some(Value::Null) => (random_id(), true),
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_CLIENT_ID => {
            (s.clone(), false)
        }
        Some(_) => return refuse(conn, ErrorCode::InvalidLogin),
    };
    if let Some(current) = &conn.session {
        // One session per socket: reopening is idempotent for the same clientId.
        if anonymous || current.client == client {
            let client = current.client.clone();
            conn.reply(
                req,
                json!({"cmd": "session", "op": "opened", "peerId": client}),
            );
            return Ok(());
        }
        return Err(Failure::with(
            ErrorCode::InvalidLogin,
            "this connection already has a session",
        ));
    }
    if let Some(key) = &master_key {
        let signed_id = if anonymous { "" } else { client.as_str() };
        if !conn
            .shared
            .signatures
            .check(key, &app_id, signed_id, Action::Open, &req.frame)
        {
            return refuse(conn, ErrorCode::SignatureFailed);
        }
    }
    let limit = conn.shared.limits.sessions_per_client;
    if conn
        .shared
        .hub
        .register(&client, conn.id, conn.outbox.clone(), limit)
        .is_err()
    {
        return refuse(conn, ErrorCode::TooManyRequests);
    }
    tracing::Span::current().record("client", client.as_str());
    conn.session = Some(Session {
        client: client.clone(),
        app_id,
        master_key,
    });
    conn.reply(
        req,
        json!({"cmd": "session", "op": "opened", "peerId": client}),
    );
    deliver_offline(conn, client).await;
    Ok(())
}

/// Ends the login: `session closed` with the code, then a close with the same code.
fn refuse(conn: &mut Conn, code: ErrorCode) -> Result<(), Failure> {
    conn.send(json!({
        "cmd": "session", "op": "closed", "code": code.code(), "reason": code.reason(),
    }));
    conn.close = Some(code.code());
    Ok(())
}

/// Pushes the queued messages as `direct` with `offline: true`, oldest first.
///
/// The session is already registered, so messages committed meanwhile are queued for it
/// live; the connection task does not write its queue while this runs. The snapshot's
/// horizon then makes delivery exact: a live `direct` whose commit number is at most
/// the horizon was committed before the snapshot (so it is in this push, or beyond the
/// caps and still queued, or already acked) and is dropped; later ones are written
/// after this push.
async fn deliver_offline(conn: &mut Conn, client: String) {
    let limits = &conn.shared.limits;
    let snapshot = conn.shared.store.offline(
        client,
        limits.offline_per_conversation,
        limits.offline_conversations,
    );
    match snapshot.await {
        Ok(offline) => {
            conn.horizon = offline.horizon;
            for m in offline.messages {
                conn.send(json!({
                    "cmd": "direct", "cid": m.cid, "id": m.id, "fromPeerId": m.from,
                    "timestamp": m.timestamp, "msg": m.data, "offline": true,
                }));
            }
        }
        Err(e) => tracing::warn!(error = %e, "offline delivery failed"),
    }
}

pub fn query(conn: &mut Conn, req: &Request) -> Result<(), Failure> {
    let ids = req.client_ids("sessionPeerIds")?;
    let online: Vec<&String> = ids
        .iter()
        .take(PING_IDS)
        .filter(|id| conn.shared.hub.is_online(id))
        .collect();
    conn.reply(
        req,
        json!({"cmd": "session", "op": "query-result", "onlineSessionPeerIds": online}),
    );
    Ok(())
}

pub fn close(conn: &mut Conn, req: &Request) -> Result<(), Failure> {
    conn.reply(req, json!({"cmd": "session", "op": "closed"}));
    conn.shared.hub.unregister(conn.id);
    conn.session = None;
    Ok(())
}
