//! The service layer: every operation a client can ask for, with the domain rules
//! applied once for every store, hub and wire dialect. Wire codecs call it with typed
//! requests and render what it returns; it talks to the store and the hub only.

mod admin;
mod conversations;
mod dispatch;
mod messages;
mod patches;
mod session;
mod unread;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use leanrt_protocol::ErrorCode;

pub use admin::{Creation, MemberOp, SendAs};
pub use messages::Appending;
pub use patches::PatchRequest;
pub use unread::Unread;

use crate::auth::Signatures;
use crate::config::{Apps, Limits};
use crate::domain::event::Push;
use crate::domain::rules::RecordLimits;
use crate::domain::{Device, Refusal, SessionId};
use crate::hub::Hub;
use crate::store::{Store, StoreError, StoreResult};

/// Why a request failed: its code and an optional `detail`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub code: ErrorCode,
    pub detail: Option<String>,
}

impl Failure {
    pub fn with(code: ErrorCode, detail: impl Into<String>) -> Self {
        Failure {
            code,
            detail: Some(detail.into()),
        }
    }
}

impl From<ErrorCode> for Failure {
    fn from(code: ErrorCode) -> Self {
        Failure { code, detail: None }
    }
}

/// A logged-in session, as the service sees it.
#[derive(Clone, Debug)]
pub struct SessionCtx {
    pub id: SessionId,
    pub client: Arc<str>,
    pub app_id: String,
    /// Set when the app enforces signatures.
    pub master_key: Option<String>,
    /// The device of a login under a tag (single-device login).
    pub device: Option<Device>,
}

impl SessionCtx {
    /// Whether a login from `other` displaces this session: the same tag, another
    /// device.
    pub fn displaced_by(&self, other: &Device) -> bool {
        self.device
            .as_ref()
            .is_some_and(|own| own.tag == other.tag && own.id != other.id)
    }
}

/// Pushes to make once the request's own reply is on its way: the initiator sees
/// its reply before any notification it caused.
#[derive(Default)]
pub struct Notices(Vec<(Vec<String>, Arc<Push>)>);

impl Notices {
    fn add(&mut self, to: Vec<String>, push: Arc<Push>) {
        if !to.is_empty() {
            self.0.push((to, push));
        }
    }
}

/// What a failed store operation means for one command: the code of each refusal,
/// and of storage failures.
struct Codes {
    not_found: ErrorCode,
    not_member: ErrorCode,
    invalid: ErrorCode,
    too_large: ErrorCode,
    storage: ErrorCode,
}

impl Codes {
    fn failure(&self, e: StoreError) -> Failure {
        match e {
            StoreError::Refused(Refusal::NotFound) => self.not_found.into(),
            StoreError::Refused(Refusal::NotMember) => self.not_member.into(),
            StoreError::Refused(Refusal::Full) => ErrorCode::ConversationFull.into(),
            StoreError::Refused(Refusal::Invalid(d)) => Failure::with(self.invalid, d),
            StoreError::Refused(Refusal::TooLarge(d)) => Failure::with(self.too_large, d),
            StoreError::Refused(Refusal::Expired) => ErrorCode::ConversationNotFound.into(),
            StoreError::Unavailable { detail, .. } => Failure::with(self.storage, detail),
        }
    }
}

/// Tries a store operation again while it fails in a retryable way.
async fn retrying<T, F>(mut attempt: F) -> StoreResult<T>
where
    F: FnMut() -> BoxFuture<'static, StoreResult<T>>,
{
    const ATTEMPTS: u32 = 4;
    let mut delay = Duration::from_millis(20);
    for _ in 1..ATTEMPTS {
        match attempt().await {
            Err(StoreError::Unavailable {
                retryable: true, ..
            }) => {
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
            other => return other,
        }
    }
    attempt().await
}

/// The server's operations, shared by every connection.
pub struct Service {
    pub limits: Limits,
    pub apps: Apps,
    pub store: Arc<dyn Store>,
    pub hub: Arc<dyn Hub>,
    pub signatures: Signatures,
    /// This node's id, part of every [`SessionId`].
    pub node: Arc<str>,
}

impl Service {
    fn record_limits(&self) -> RecordLimits {
        RecordLimits {
            max_members: self.limits.max_members,
            max_record_bytes: self.limits.max_record_bytes,
        }
    }

    /// Makes the pushes of `notices`.
    pub async fn notify(&self, notices: Notices) {
        for (to, push) in notices.0 {
            self.hub.deliver(&to, None, &[push]).await;
        }
    }

    /// Delivers the store's commit stream until it ends (the store closed).
    pub fn start_dispatcher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move { service.dispatch().await })
    }
}
