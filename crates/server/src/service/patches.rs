//! Changing a sent message (v3 `patch`): its sender modifies or recalls it, and the
//! other members' sessions are told.

use leanrt_protocol::ErrorCode;

use super::{retrying, Codes, Failure, Notices, Service, SessionCtx};
use crate::domain::event::{Event, Push};
use crate::domain::{rules, Extras};
use crate::store::MessagePatch;
use crate::time::now_ms;

/// What a recalled message holds afterwards: the SDKs' `RecalledMessage` type.
pub const RECALLED: &str = r#"{"_lctype":-127,"_lctext":""}"#;

const PATCH: Codes = Codes {
    not_found: ErrorCode::InvalidMessagingTarget,
    not_member: ErrorCode::InvalidMessagingTarget,
    invalid: ErrorCode::InvalidMessagingTarget,
    too_large: ErrorCode::FrameTooLong,
    storage: ErrorCode::ConversationApiFailed,
};

/// A change asked for: the new content, or a recall.
pub struct PatchRequest {
    pub cid: String,
    pub mid: String,
    /// The new content and its extras; `None` recalls the message.
    pub content: Option<(String, Option<Box<Extras>>)>,
}

impl Service {
    /// Changes message `mid` of `cid`, if `s` is a member and its sender; returns
    /// when, and the pushes to the other members.
    pub async fn patch(
        &self,
        s: &SessionCtx,
        req: PatchRequest,
    ) -> Result<(i64, Notices), Failure> {
        let recall = req.content.is_none();
        let (data, extras) = req.content.unwrap_or_else(|| (RECALLED.to_owned(), None));
        self.check_size(&data)?;
        let conv = self
            .admitted(&req.cid, &s.client, rules::may_read, &PATCH)
            .await?;
        let store = self.store.clone();
        let at = now_ms();
        let patch = MessagePatch {
            cid: req.cid.clone(),
            mid: req.mid.clone(),
            by: s.client.to_string(),
            data: data.clone(),
            extras: extras.as_deref().cloned().unwrap_or_default(),
            at,
        };
        let timestamp = retrying(|| store.patch(patch.clone()))
            .await
            .map_err(|e| PATCH.failure(e))?;
        let to: Vec<String> = conv
            .members
            .iter()
            .filter(|m| **m != *s.client)
            .cloned()
            .collect();
        let push = Push::new(Event::Patch {
            cid: req.cid,
            mid: req.mid,
            timestamp,
            from: s.client.to_string(),
            data,
            extras,
            recall,
            at,
        });
        let mut notices = Notices::default();
        notices.add(to, push);
        Ok((at, notices))
    }
}
