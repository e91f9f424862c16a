//! The v2 JSON dialect: each text frame is parsed once into a typed command
//! (`leanrt_protocol::command`), checked against the connection's state, handed to
//! the service, and its result rendered (§6.9 for failures).

pub mod render;

use leanrt_protocol::command::{Command, Envelope, MemberChange, Peer, SessionOpen, Unreadable};
use leanrt_protocol::ErrorCode;
use serde_json::{json, Number, Value};

use crate::config::AppCheck;
use crate::connection::{Conn, Dialect, PendingDirect, Then};
use crate::ids::random_id;
use crate::service::{Failure, Notices, Service, SessionCtx};
use crate::time::{iso, now_ms};

/// Handles one text frame.
pub fn dispatch(conn: &mut Conn, text: &str) {
    dispatch_parsed(conn, Envelope::parse(text));
}

/// Handles one frame, as it was read.
pub fn dispatch_parsed(conn: &mut Conn, env: Result<Envelope, Unreadable>) {
    let env = match env {
        Ok(env) => env,
        Err(e) => return conn.fail(e.i.as_ref(), invalid(e.error)),
    };
    // Anything without a command is a heartbeat (§2.3).
    let Some(cmd) = env.cmd.as_deref() else {
        return conn.heartbeat();
    };
    let i = env.i.clone();
    let ack_form = cmd == "direct";
    // A recipient's `ack` answers the server's own push, so it is not the client's
    // traffic to limit: a large push would otherwise have its acks refused.
    if cmd != "ack" && !conn.rate.allow() {
        return respond(
            conn,
            i.as_ref(),
            ack_form,
            ErrorCode::TooManyRequests.into(),
        );
    }
    let opening = cmd == "session" && env.op == "open";
    if !conn.has_session() && !opening {
        // Nothing to close is closed: a displaced or refused v3 client's `close()`
        // waits for this reply before it lets its socket go.
        if cmd == "session" && env.op == "close" && i.is_some() {
            return conn.reply(i.as_ref(), json!({"cmd": "session", "op": "closed"}));
        }
        if i.is_some() {
            return respond(
                conn,
                i.as_ref(),
                ack_form,
                ErrorCode::SessionRequired.into(),
            );
        }
        conn.close = Some(ErrorCode::SessionRequired.code());
        return;
    }
    let command = match env.command() {
        Ok(command) => command,
        Err(e) => return respond(conn, i.as_ref(), ack_form, invalid(e)),
    };
    let needs_i = !matches!(command, Command::SessionOpen(_) | Command::Ack { .. })
        && !env.is_transient_direct();
    if needs_i && i.is_none() {
        return conn.fail(
            None,
            Failure::with(ErrorCode::InternalError, "i is required"),
        );
    }
    match command {
        Command::Ack { cid, mid } => conn.ack(&cid, &mid),
        Command::Direct(d) if !d.transient => {
            let appended = conn.session().map(|s| conn.service.append(s, d));
            match appended {
                Ok(Ok(appending)) => conn.pending.push_back(PendingDirect { i, appending }),
                Ok(Err(f)) | Err(f) => conn.fail_ack(i.as_ref(), f),
            }
        }
        // Sees every message this connection sent before it.
        other if !conn.pending.is_empty() => conn.deferred = Some((i, other)),
        other => run(conn, i, other),
    }
}

fn invalid(e: leanrt_protocol::command::Invalid) -> Failure {
    Failure::with(e.code, e.detail)
}

/// Reports a failure: an error ack for `direct`, else an error frame.
fn respond(conn: &mut Conn, i: Option<&Number>, ack_form: bool, failure: Failure) {
    if ack_form && i.is_some() {
        conn.fail_ack(i, failure);
    } else {
        conn.fail(i, failure);
    }
}

/// A request's outcome: `ok` renders the reply, a failure an error frame.
fn answer<T: Send + 'static>(
    i: Option<Number>,
    ack_form: bool,
    result: Result<T, Failure>,
    ok: impl FnOnce(&mut Conn, Option<&Number>, T) + Send + 'static,
) -> Then {
    Box::new(move |conn: &mut Conn| match result {
        Ok(v) => ok(conn, i.as_ref(), v),
        Err(f) => respond(conn, i.as_ref(), ack_form, f),
    })
}

/// Starts a request that needs the service.
pub fn run(conn: &mut Conn, i: Option<Number>, command: Command) {
    if let Command::SessionOpen(req) = command {
        return open(conn, i, req);
    }
    let service = conn.service.clone();
    let Ok(s) = conn.session().cloned() else {
        return conn.fail(i.as_ref(), ErrorCode::SessionRequired.into());
    };
    conn.begin(Box::pin(async move {
        match command {
            Command::SessionQuery { ids } => {
                let online = service.ping(ids).await;
                answer(i, false, Ok(online), |conn, i, online| {
                    conn.reply(
                        i,
                        json!({"cmd": "session", "op": "query-result", "onlineSessionPeerIds": online}),
                    )
                })
            }
            Command::SessionClose => {
                service.close(&s.id).await;
                answer(i, false, Ok(()), |conn, i, ()| {
                    conn.reply(i, json!({"cmd": "session", "op": "closed"}));
                    conn.end_session();
                })
            }
            Command::ConvStart(req) => {
                let started = service.start(&s, req).await;
                answer(i, false, started, |conn, i, started| {
                    let c = &started.conv;
                    let mut reply =
                        json!({"cmd": "conv", "op": "started", "cid": c.id, "cdate": iso(c.created_at)});
                    if let Some(ttl) = c.lifetime_secs() {
                        reply["tempConvTTL"] = json!(ttl);
                    }
                    conn.reply(i, reply);
                    notify(conn, started.notices);
                })
            }
            Command::ConvAdd(req) => members(&service, &s, i, req, true).await,
            Command::ConvRemove(req) => members(&service, &s, i, req, false).await,
            Command::ConvQuery(req) => {
                let found = service.query(&req).await;
                answer(i, false, found, |conn, i, (hits, compact)| {
                    let now = now_ms();
                    let results: Vec<Value> = hits
                        .iter()
                        .map(|(c, last)| render::conversation(c, compact, last.as_ref(), now))
                        .collect();
                    conn.reply(i, json!({"cmd": "conv", "op": "results", "results": results}));
                })
            }
            Command::ConvCount { cid } => {
                let count = service.count(&cid).await;
                answer(i, false, count, |conn, i, count| {
                    conn.reply(i, json!({"cmd": "conv", "op": "result", "count": count}))
                })
            }
            Command::ConvMembers { cid, limit } => {
                let online = service.online_members(&cid, limit).await;
                answer(i, false, online, move |conn, i, m| {
                    conn.reply(i, json!({"cmd": "conv", "op": "members", "cid": cid, "m": m}))
                })
            }
            Command::ConvUpdate { cid, attr } => {
                let updated = service.update(&s, cid.clone(), attr).await;
                answer(i, false, updated, move |conn, i, at| {
                    conn.reply(
                        i,
                        json!({"cmd": "conv", "op": "updated", "cid": cid, "udate": iso(at)}),
                    )
                })
            }
            Command::Direct(d) => {
                let sent = service.send_transient(&s, d).await;
                // v2 clients expect no ack; v3 SDKs wait for one (configBitmap bit 3).
                answer(i, true, sent, |conn, i, ()| {
                    if conn.dialect != Dialect::Json {
                        let ack = json!({"cmd": "ack", "uid": random_id(), "t": now_ms()});
                        conn.reply(i, ack);
                    }
                })
            }
            Command::Logs(req) => {
                let logs = service.logs(&s, req).await;
                answer(i, false, logs, |conn, i, logs| {
                    let logs: Vec<Value> = logs.iter().map(render::log_item).collect();
                    conn.reply(i, json!({"cmd": "logs", "logs": logs}));
                })
            }
            Command::SessionOpen(_) | Command::Ack { .. } => {
                unreachable!("handled before a request starts")
            }
        }
    }));
}

/// `conv add` or `conv remove`: the reply, then `joined`/`left` to those changed and
/// `members-joined`/`members-left` to the members (§6.4).
async fn members(
    service: &Service,
    s: &SessionCtx,
    i: Option<Number>,
    req: MemberChange,
    add: bool,
) -> Then {
    let cid = req.cid.clone();
    let changed = service.change_members(s, req, add).await;
    let op = if add { "added" } else { "removed" };
    answer(i, false, changed, move |conn, i, notices| {
        conn.reply(i, json!({"cmd": "conv", "op": op, "cid": cid}));
        notify(conn, notices);
    })
}

/// Once the reply is queued, makes the pushes a request caused (the initiator sees
/// its reply first), as a request of its own.
fn notify(conn: &mut Conn, notices: Notices) {
    let service = conn.service.clone();
    conn.begin(Box::pin(async move {
        service.notify(notices).await;
        Box::new(|_: &mut Conn| {}) as Then
    }));
}

/// `session open`: a second open on a socket re-answers for the same clientId; a
/// first one logs in, attaches and reads what is owed before pushes are written.
fn open(conn: &mut Conn, i: Option<Number>, req: SessionOpen) {
    if let Ok(current) = conn.session() {
        let client = current.client.to_string();
        let known = req
            .app_id
            .as_deref()
            .is_some_and(|app| !matches!(conn.service.apps.check(app), AppCheck::Unknown));
        let same = match &req.peer {
            _ if !known => return refuse(conn, i.as_ref(), ErrorCode::AppNotAvailable),
            Peer::Invalid => return refuse(conn, i.as_ref(), ErrorCode::InvalidLogin),
            Peer::Anonymous => true,
            Peer::Id(id) => *id == client,
        };
        if same {
            return conn.reply(
                i.as_ref(),
                json!({"cmd": "session", "op": "opened", "peerId": client}),
            );
        }
        let failure = Failure::with(
            ErrorCode::InvalidLogin,
            "this connection already has a session",
        );
        return conn.fail(i.as_ref(), failure);
    }
    let (service, id, outbox) = (conn.service.clone(), conn.id.clone(), conn.outbox.clone());
    // v3's `…2.3` sessions are told their unread counts, and fetch the messages.
    let counts_only = matches!(conn.dialect, Dialect::V3(p) if p.unread_mode);
    conn.opening = true;
    conn.begin(Box::pin(async move {
        let opened = service.open(id, outbox, req).await;
        let (owed, counts) = match &opened {
            Ok(s) if counts_only => (None, Some(service.unread_counts(&s.client, None).await)),
            Ok(s) => (Some(service.pending(&s.client).await), None),
            Err(_) => (None, None),
        };
        Box::new(move |conn: &mut Conn| {
            conn.opening = false;
            let session = match opened {
                Ok(session) => session,
                Err(code) => return refuse(conn, i.as_ref(), code),
            };
            tracing::Span::current().record("client", &*session.client);
            let client = session.client.to_string();
            conn.set_session(session);
            if conn.service.hub.repairs_gaps() {
                let limits = &conn.service.limits;
                let (cap, hold) = (limits.offline_per_conversation, limits.outbound_queue);
                conn.delivery.repair_gaps(cap, hold);
            }
            conn.reply(
                i.as_ref(),
                json!({"cmd": "session", "op": "opened", "peerId": client}),
            );
            match owed {
                Some(Ok(owed)) => {
                    let limits = &conn.service.limits;
                    let (cap, hold) = (limits.offline_per_conversation, limits.outbound_queue);
                    conn.delivery.start(owed, cap, hold);
                }
                Some(Err(e)) => tracing::warn!(error = %e, "offline delivery failed"),
                None => {}
            }
            match counts {
                Some(Ok(counts)) if !counts.is_empty() => {
                    conn.send(render::unread(&counts, now_ms()));
                }
                Some(Err(e)) => tracing::warn!(error = %e, "unread counts failed"),
                Some(Ok(_)) | None => {}
            }
        }) as Then
    }));
}

/// Ends a login: `session closed` with the code, then a close with the same code.
/// v3 SDKs wait for a reply to their `session open`, so theirs carries its `i`.
fn refuse(conn: &mut Conn, i: Option<&Number>, code: ErrorCode) {
    match conn.dialect {
        Dialect::Json => conn.send(session_closed(code)),
        // A displaced device's reconnect: the SDK reports it and stays down, so the
        // socket stays open (closing it would only bring the reconnect back).
        Dialect::V3(_) if code == ErrorCode::SessionConflict => {
            return conn.reply(i, session_closed(code))
        }
        Dialect::V3(_) => conn.reply(i, session_closed(code)),
    }
    conn.close = Some(code.code());
}

/// `session closed` with `code`: what a session is told before the server closes it.
fn session_closed(code: ErrorCode) -> Value {
    json!({"cmd": "session", "op": "closed", "code": code.code(), "reason": code.reason()})
}

/// The frame that goes before closing a connection with `code`, when one does: a
/// kick or a login elsewhere ends the session (`session closed`), other closes only
/// the socket.
pub fn closing_notice(code: u16) -> Option<String> {
    [ErrorCode::KickedByApp, ErrorCode::SessionConflict]
        .into_iter()
        .find(|c| c.code() == code)
        .map(|c| session_closed(c).to_string())
}
