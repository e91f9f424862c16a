//! `session open`, `session query` (ping) and `session close` (§6.1).

use std::sync::Arc;

use leanrt_protocol::command::{Peer, SessionOpen};
use leanrt_protocol::signature::Action;
use leanrt_protocol::ErrorCode;

use super::{Service, SessionCtx};
use crate::auth::session_token;
use crate::config::AppCheck;
use crate::domain::SessionId;
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
        if let Some(key) = &master_key {
            // A token that does not hold is no login either (4102): JS 5 answers
            // LeanCloud's 4112 by opening again without one.
            let resumed = req.session_token.as_deref().is_some_and(|st| {
                session_token::holder(key, &app_id, st, now_ms()) == Some(client.as_str())
            });
            // An anonymous login signs an empty clientId.
            let signed_id = if anonymous { "" } else { client.as_str() };
            let valid = resumed
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
        self.hub
            .attach(&client, &session, outbox, self.limits.sessions_per_client)
            .await
            .map_err(|_| ErrorCode::TooManyRequests)?;
        Ok(SessionCtx {
            id: session,
            client: Arc::from(client),
            app_id,
            master_key,
        })
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
