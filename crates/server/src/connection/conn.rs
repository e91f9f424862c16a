//! A connection's state between frames, and what its handlers may do with it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use leanrt_protocol::command::Command;
use leanrt_protocol::ErrorCode;
use serde_json::{json, Number, Value};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::delivered::Delivered;
use super::login::{self, Delivery};
use super::subsessions::Subsessions;
use super::write::WRITE_BATCH;
use super::Dialect;
use crate::domain::event::{Event, Push};
use crate::domain::{SessionId, StoredMessage};
use crate::hub::Outbox;
use crate::json::render;
use crate::service::{Failure, Service, SessionCtx};
use crate::store::{Ack, Pending, PendingPage, StoreResult};
use crate::v3;

/// What a finished request does to its connection.
pub type Then = Box<dyn FnOnce(&mut Conn) + Send>;
/// A request in progress.
pub type Task = BoxFuture<'static, Then>;
/// A read for delivery: a page of a push, or what the clientId is owed (a resync).
pub type PageRead = BoxFuture<'static, Read>;

/// What a [`PageRead`] read.
pub enum Read {
    Page(StoreResult<PendingPage>),
    Owed(StoreResult<Vec<Pending>>),
}

/// A `direct` being committed, with the `i` to answer.
pub struct PendingDirect {
    pub i: Option<Number>,
    pub appending: crate::service::Appending,
}

/// A token bucket allowing `rate` frames per second with one second of burst.
pub struct RateLimit {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    pub fn new(rate: u32) -> Self {
        RateLimit {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: Instant::now(),
        }
    }

    /// Takes a token if one is left. A rate of 0 means no limit.
    pub fn allow(&mut self) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A frame produced, waiting to be written.
enum Out {
    /// v2 JSON text, put in the connection's dialect when written.
    Json(Utf8Bytes),
    /// Already in the connection's dialect.
    Ready(Message),
}

/// Per-connection state seen by command handlers.
pub struct Conn {
    pub id: SessionId,
    pub service: Arc<Service>,
    session: Option<SessionCtx>,
    /// `{"peerId":"…"` of the session, put in front of every frame.
    prefix: Option<Box<str>>,
    pub outbox: Arc<Outbox>,
    /// Frames produced since the last write, in order.
    out: Vec<Out>,
    /// Set to close the connection with this code after writing `out`.
    pub close: Option<u16>,
    /// Messages being committed, oldest first; they complete in order.
    pub pending: VecDeque<PendingDirect>,
    /// The request in progress; reading pauses while there is one.
    pub request: Option<Task>,
    /// A request read while messages were being committed; it runs once they are,
    /// so that it sees them.
    pub deferred: Option<(Option<Number>, Command)>,
    /// A login is attaching and reading what is owed: pushes wait in the outbox.
    pub opening: bool,
    pub delivery: Delivery,
    pub page: Option<PageRead>,
    delivered: Delivered,
    acks: Vec<Ack>,
    pub rate: RateLimit,
    /// The wire dialect, chosen at the upgrade.
    pub dialect: Dialect,
    /// Further sessions on this socket (v3 only).
    pub subs: Subsessions,
}

impl Conn {
    pub fn new(
        id: SessionId,
        service: Arc<Service>,
        outbox: Arc<Outbox>,
        dialect: Dialect,
    ) -> Conn {
        Conn {
            dialect,
            subs: Subsessions::default(),
            rate: RateLimit::new(service.limits.frames_per_second),
            id,
            service,
            session: None,
            prefix: None,
            outbox,
            out: Vec::new(),
            close: None,
            pending: VecDeque::new(),
            request: None,
            deferred: None,
            opening: false,
            delivery: Delivery::default(),
            page: None,
            delivered: Delivered::default(),
            acks: Vec::new(),
        }
    }

    /// The session, or 4105 if there is none.
    pub fn session(&self) -> Result<&SessionCtx, Failure> {
        self.session
            .as_ref()
            .ok_or_else(|| leanrt_protocol::ErrorCode::SessionRequired.into())
    }

    pub fn has_session(&self) -> bool {
        self.session.is_some()
    }

    pub fn set_session(&mut self, session: SessionCtx) {
        self.prefix = Some(render::peer_prefix(&session.client));
        self.session = Some(session);
    }

    /// Forgets the session and everything delivered in it.
    pub fn end_session(&mut self) {
        self.session = None;
        self.prefix = None;
        self.delivery.clear();
        self.delivered.clear();
        self.page = None;
    }

    /// Answers a heartbeat: `{}` as it came (§2.3).
    pub fn heartbeat(&mut self) {
        self.out.push(Out::Json(Utf8Bytes::from_static("{}")));
    }

    /// Sends a frame addressed to `peer`, whatever this connection's session.
    pub fn send_to(&mut self, peer: &str, body: &Value) {
        let prefix = render::peer_prefix(peer);
        let text = render::addressed(Some(&prefix), &body.to_string());
        self.out.push(Out::Json(text));
    }

    /// Sends frame text (a JSON object), with `peerId` once there is a session.
    pub fn send_text(&mut self, body: &str) {
        let text = render::addressed(self.prefix.as_deref(), body);
        self.out.push(Out::Json(text));
    }

    /// Sends a frame; its own `peerId`, if any, gives way to the session's.
    pub fn send(&mut self, mut frame: Value) {
        if let (Some(_), Value::Object(map)) = (&self.prefix, &mut frame) {
            map.remove("peerId");
        }
        self.send_text(&frame.to_string());
    }

    /// Sends a reply, echoing `i` if any.
    pub fn reply(&mut self, i: Option<&Number>, mut frame: Value) {
        if let (Some(i), Value::Object(map)) = (i, &mut frame) {
            map.insert("i".into(), Value::Number(i.clone()));
        }
        self.send(frame);
    }

    /// An error frame (§6.9 form 1).
    pub fn fail(&mut self, i: Option<&Number>, failure: Failure) {
        self.reply(i, render::failure(&failure, false));
    }

    /// An error ack for `direct` (§6.9 form 2).
    pub fn fail_ack(&mut self, i: Option<&Number>, failure: Failure) {
        self.reply(i, render::failure(&failure, true));
    }

    /// Runs `task` as the request in progress.
    pub fn begin(&mut self, task: Task) {
        self.request = Some(task);
    }

    /// Answers a committed (or failed) message.
    pub fn stored(&mut self, i: Option<Number>, result: Result<Arc<StoredMessage>, Failure>) {
        if let Ok(m) = &result {
            self.delivery.own(m);
        }
        match (result, self.dialect, &self.session) {
            // The most frequent reply of a v3 sender, written the quick way.
            (Ok(m), Dialect::V3(protocol), Some(s)) => {
                let i = i.as_ref().and_then(Number::as_i64);
                let frame = v3::stored_ack(protocol, i, &m, &s.client);
                self.out.push(Out::Ready(frame));
            }
            (Ok(m), _, _) => self.reply(
                i.as_ref(),
                json!({"cmd": "ack", "uid": m.id, "t": m.timestamp}),
            ),
            (Err(f), _, _) => self.fail_ack(i.as_ref(), f),
        }
    }

    /// Remembers a message written to this session, for its ack.
    fn track(&mut self, m: &StoredMessage) {
        if self.session.as_ref().is_some_and(|s| *s.client != *m.from) {
            self.delivered.sent(m);
        }
    }

    /// Writes a live push.
    fn emit(&mut self, push: &Push) {
        if let Event::Conflict { device } = &push.event {
            if self
                .session
                .as_ref()
                .is_some_and(|s| s.displaced_by(device))
            {
                self.close.get_or_insert(ErrorCode::SessionConflict.code());
            }
            return;
        }
        // v2 has no read receipts or patches: 2.4.0 would misread them.
        if self.dialect == Dialect::Json && push.event.is_v3_only() {
            return;
        }
        let frame = match (self.dialect, &self.session) {
            // Encoded once for every v3 recipient, with each one's id appended.
            (Dialect::V3(protocol), Some(s)) => v3::push_frame(protocol, push, &s.client),
            _ => None,
        };
        match frame {
            Some(frame) => self.out.push(Out::Ready(frame)),
            None => {
                let body = push.rendered(render::event);
                let text = render::addressed(self.prefix.as_deref(), body);
                self.out.push(Out::Json(text));
            }
        }
        if let Event::Message(m) = &push.event {
            self.track(m);
        }
    }

    /// Takes queued pushes, as many as one write takes, through the login filter.
    pub fn drain_outbox(&mut self) {
        let mut pushes = Vec::new();
        self.outbox.drain(WRITE_BATCH, &mut pushes);
        for push in pushes {
            if let Some(push) = self.delivery.route(push) {
                self.emit(&push);
            }
        }
    }

    /// Starts reading the next page of the login push, if one is due: the push goes
    /// as fast as the client acks, never so far ahead that an unacked message would
    /// be forgotten (its ack lost, the message pushed again at the next login).
    pub fn read_page(&mut self) {
        let (Some(session), None) = (&self.session, &self.page) else {
            return;
        };
        let (service, client) = (self.service.clone(), session.client.clone());
        if self.delivery.repairing() && self.outbox.take_resync() {
            // Pushes may have been lost: compare with what the store says is owed.
            self.page = Some(Box::pin(async move {
                Read::Owed(service.pending(&client).await)
            }));
            return;
        }
        if !self.delivered.has_room(login::PAGE) {
            return;
        }
        let Some((pending, limit)) = self.delivery.next_read() else {
            return;
        };
        self.page = Some(Box::pin(async move {
            Read::Page(service.pending_page(&client, &pending, limit).await)
        }));
    }

    /// Takes a finished read.
    pub fn on_read(&mut self, read: Read) {
        match read {
            Read::Page(page) => self.on_page(page),
            Read::Owed(Ok(owed)) => self.delivery.resync(owed),
            Read::Owed(Err(e)) => tracing::warn!(error = %e, "a resync failed"),
        }
    }

    /// Writes a page of the login push.
    fn on_page(&mut self, page: StoreResult<PendingPage>) {
        let released = match page {
            Ok(page) => {
                let pushed = self.delivery.on_page(page);
                for m in pushed.offline {
                    if pushed.repaired {
                        // A gap in live delivery, written as the live pushes it missed.
                        self.emit(&Push::new(Event::Message(Arc::new(m))));
                    } else {
                        self.send_text(&render::direct(&m, Some("offline")));
                        self.track(&m);
                    }
                }
                pushed.released
            }
            Err(e) => {
                tracing::warn!(error = %e, "offline delivery failed");
                self.delivery.abandon()
            }
        };
        for push in released {
            self.emit(&push);
        }
    }

    /// A recipient's ack: recorded if it is of a message sent here.
    pub fn ack(&mut self, cid: &str, mid: &str) {
        let Some(session) = &self.session else {
            return;
        };
        let client = session.client.clone();
        if let Some(ack) = self.delivered.acked(&client, cid, mid) {
            self.acks.push(ack);
        }
    }

    /// Hands the acks read so far to the store, in one go.
    pub fn flush_acks(&mut self) {
        if !self.acks.is_empty() {
            self.service.ack(std::mem::take(&mut self.acks));
        }
    }

    /// The frames produced so far, ready to write in the connection's dialect.
    pub fn take_out(&mut self) -> impl Iterator<Item = Message> + '_ {
        let (dialect, session) = (self.dialect, self.session.as_ref());
        self.out.drain(..).filter_map(move |out| match out {
            Out::Json(text) => dialect.frame(text, session),
            Out::Ready(frame) => Some(frame),
        })
    }

    /// One frame of v2 JSON text in the connection's dialect, with `peerId` once
    /// there is a session (the SDKs route by it when sessions share a socket).
    pub fn frame(&self, body: &str) -> Option<Message> {
        let text = render::addressed(self.prefix.as_deref(), body);
        self.dialect.frame(text, self.session.as_ref())
    }

    /// Acks every message of `cid` sent here with a timestamp in `from..=to` (v3
    /// acks a range).
    pub fn ack_range(&mut self, cid: &str, from: i64, to: i64) {
        let Some(session) = &self.session else {
            return;
        };
        let client = session.client.clone();
        let acks = self.delivered.acked_range(&client, cid, from, to);
        self.acks.extend(acks);
    }
}
