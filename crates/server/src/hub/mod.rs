//! Who is online where, and delivery to them, behind [`Hub`]: sessions by clientId,
//! participants of transient conversations, and pushes into each session's
//! [`Outbox`].
//!
//! # Contract
//! - `attach` resolves once the session is visible to every node: a push made after
//!   it resolves reaches the session. (The login relies on this: register, then read
//!   what is pending.)
//! - Presence may be a lease: a networked hub may report a session online until its
//!   lease expires after the node serving it died.
//! - Pushes from one caller to one session arrive in the order they were made. The
//!   store's commit stream is delivered by one dispatcher, so a session receives the
//!   messages of one conversation in seq order (see `ARCHITECTURE.md`).
//! - Nothing here is durable: a push to a session that is gone is dropped.

mod local;
mod outbox;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use leanrt_protocol::ErrorCode;

pub use local::LocalHub;
pub use outbox::Outbox;

use crate::domain::event::Push;
use crate::domain::Device;
pub use crate::domain::SessionId;

/// Why a session could not be attached.
#[derive(Debug, PartialEq, Eq)]
pub struct TooManySessions;

/// Presence and delivery. Implementations: [`LocalHub`] (one process) and
/// [`crate::cluster::RedisHub`] (several nodes).
pub trait Hub: Send + Sync + 'static {
    /// Whether pushes of a conversation's messages may arrive out of seq order or be
    /// lost (pub/sub between nodes), so that sessions must repair gaps from the store.
    fn repairs_gaps(&self) -> bool {
        false
    }

    /// Makes `client` online on `session`, refusing more than `max_sessions`
    /// sessions of one clientId.
    fn attach<'a>(
        &'a self,
        client: &'a str,
        session: &'a SessionId,
        outbox: Arc<Outbox>,
        max_sessions: usize,
    ) -> BoxFuture<'a, Result<(), TooManySessions>>;

    /// Takes `session` offline and out of every transient conversation.
    fn detach<'a>(&'a self, session: &'a SessionId) -> BoxFuture<'a, ()>;

    /// Closes every session of `client` with `code` (a kick); returns how many.
    fn kick<'a>(&'a self, client: &'a str, code: ErrorCode) -> BoxFuture<'a, usize>;

    /// Single-device login: records `device` as the last to log `client` in under
    /// its tag.
    fn claim_device<'a>(&'a self, client: &'a str, device: &'a Device) -> BoxFuture<'a, ()>;

    /// The id of the device that last logged `client` in under `tag`, if known.
    fn device_of<'a>(&'a self, client: &'a str, tag: &'a str) -> BoxFuture<'a, Option<String>>;

    /// Whether each of `clients` has a session.
    fn online<'a>(&'a self, clients: &'a [String]) -> BoxFuture<'a, Vec<bool>>;

    /// Pushes `pushes`, in order, to every session of each of `clients`, except
    /// `except`.
    fn deliver<'a>(
        &'a self,
        clients: &'a [String],
        except: Option<&'a SessionId>,
        pushes: &'a [Arc<Push>],
    ) -> BoxFuture<'a, ()>;

    /// Adds `session` (of `client`) to the participants of transient conversation `cid`.
    fn join_room<'a>(
        &'a self,
        cid: &'a str,
        client: &'a str,
        session: &'a SessionId,
    ) -> BoxFuture<'a, ()>;

    fn leave_room<'a>(&'a self, cid: &'a str, session: &'a SessionId) -> BoxFuture<'a, ()>;

    /// Distinct clientIds among the participants of `cid`.
    fn room_count<'a>(&'a self, cid: &'a str) -> BoxFuture<'a, usize>;

    /// Up to `limit` distinct clientIds among the participants of `cid`, sorted.
    fn room_clients<'a>(&'a self, cid: &'a str, limit: usize) -> BoxFuture<'a, Vec<String>>;

    /// Pushes `pushes`, in order, to the participants of `cid`, except `except`.
    fn deliver_room<'a>(
        &'a self,
        cid: &'a str,
        except: Option<&'a SessionId>,
        pushes: &'a [Arc<Push>],
    ) -> BoxFuture<'a, ()>;
}
