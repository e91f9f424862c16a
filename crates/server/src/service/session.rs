//! `session open`, `session query` (ping) and `session close` (§6.1).

use std::sync::Arc;

use leanrt_protocol::command::{Peer, SessionOpen};
use leanrt_protocol::signature::Action;
use leanrt_protocol::ErrorCode;

use super::{Service, SessionCtx};
use crate::auth::session_token;
use crate::config::AppCheck;
use crate::domain::event::{Event, Push};
use crate::domain::{Device, SessionId};
use crate::hub::Outbox;
use crate::ids::random_id;
use crate::time::now_ms;

/// Ids considered by a ping (§6.1).
const PING_IDS: usize = 20;

/// A session that opened.
pub type Opened = SessionCtx;

impl Service {
    /// Logs `session` in and attaches it to the hub; a refusal is the code to close
    /// with (after `session closed`).
    pub async fn open(
        &self,
        session: SessionId,
        outbox: Arc<Outbox>,
        req: SessionOpen,
    ) -> Result<Opened, ErrorCode> {
        let app_id = req.app_id.ok_or(ErrorCode::AppNotAvailable)?;
        let master_key = match self.apps.check(&app_id) {
            AppCheck::Unknown => return Err(ErrorCode::AppNotAvailable),
            AppCheck::Open => None,
            AppCheck::Signed { master_key } => Some(master_key.to_owned()),
        };
        let (client, anonymous) = match req.peer {
            Peer::Anonymous => (random_id(), true),
            Peer::Id(id) => (id, false),
            Peer::Invalid => return Err(ErrorCode::InvalidLogin),
        };
        let token_key = master_key.as_deref().unwrap_or_default();
        let resumed = req
            .session_token
            .as_deref()
            .and_then(|st| session_token::holder(token_key, &app_id, st, now_ms()))
            .filter(|h| h.client == client);
        if let Some(key) = &master_key {
            // A token that does not hold is no login either (4102): JS 5 answers
            // LeanCloud's 4112 by opening again without one.
            // An anonymous login signs an empty clientId.
            let signed_id = if anonymous { "" } else { client.as_str() };
            let valid = resumed.is_some()
                || self
                    .signatures
                    .check(
                        key,
                        &app_id,
                        signed_id,
                        Action::Open,
                        req.signature.as_ref(),
                    )
                    .await;
            if !valid {
                return Err(ErrorCode::SignatureFailed);
            }
        }
        // A reconnect does not repeat its tag: its token carries the device.
        let device = match (req.tag, req.reconnect) {
            (Some(tag), _) => Some(Device {
                tag,
                id: req.device.unwrap_or_default(),
            }),
            (None, true) => resumed.and_then(|h| h.device),
            (None, false) => None,
        };
        if let (Some(device), true) = (&device, req.reconnect) {
            let holder = self.hub.device_of(&client, &device.tag).await;
            if holder.is_some_and(|id| id != device.id) {
                return Err(ErrorCode::SessionConflict);
            }
        }
        self.hub
            .attach(&client, &session, outbox, self.limits.sessions_per_client)
            .await
            .map_err(|_| ErrorCode::TooManyRequests)?;
        if let Some(device) = &device {
            self.take_over(&client, &session, device).await;
        }
        Ok(SessionCtx {
            id: session,
            client: Arc::from(client),
            app_id,
            master_key,
            device,
        })
    }

    /// Single-device login: `device` now holds its tag for `client`, and the
    /// client's sessions under that tag on other devices are closed (4111).
    async fn take_over(&self, client: &str, session: &SessionId, device: &Device) {
        self.hub.claim_device(client, device).await;
        let push = Push::new(Event::Conflict {
            device: device.clone(),
        });
        self.hub
            .deliver(&[client.to_owned()], Some(session), &[push])
            .await;
    }

    /// The first 20 ids, the online ones in request order (duplicates kept).
    pub async fn ping(&self, mut ids: Vec<String>) -> Vec<String> {
        ids.truncate(PING_IDS);
        let online = self.hub.online(&ids).await;
        ids.into_iter()
            .zip(online)
            .filter_map(|(id, on)| on.then_some(id))
            .collect()
    }

    /// Ends a session: offline, out of its rooms.
    pub async fn close(&self, session: &SessionId) {
        self.hub.detach(session).await;
    }
}
