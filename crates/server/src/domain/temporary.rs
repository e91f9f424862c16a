//! Temporary conversations (v3 `tempConv`): ids that start with `_tmp:`, a lifetime
//! of their own, kept in the record's custom keys under [`EXPIRES_AT`] (no column of
//! their own), and lazy expiry: past it, every use of one is refused as if it did not
//! exist ([`Refusal::Expired`]), and queries leave it out. Nothing deletes it.

use serde_json::Value;

use super::{Conversation, Refusal};

/// What every temporary conversation's id starts with (the SDKs test it).
pub const PREFIX: &str = "_tmp:";

/// The reserved custom key holding the expiry, in ms since the epoch. Clients can
/// neither set it nor see it ([`super::rules::RESERVED_FIELDS`]).
pub const EXPIRES_AT: &str = "_tempConvExpiresAt";

/// The lifetime when `tempConvTTL` is not given: a day.
pub const DEFAULT_TTL_SECS: i64 = 86_400;

/// The longest lifetime (30 days); a longer one asked for is cut to it.
pub const MAX_TTL_SECS: i64 = 30 * 86_400;

/// Whether `cid` names a temporary conversation.
pub fn is_temporary(cid: &str) -> bool {
    cid.starts_with(PREFIX)
}

/// The lifetime in seconds for `tempConvTTL` as asked: the default when absent, at
/// most [`MAX_TTL_SECS`]; zero or less is refused.
pub fn ttl_secs(requested: Option<i64>) -> Result<i64, Refusal> {
    match requested {
        None => Ok(DEFAULT_TTL_SECS),
        Some(secs) if secs <= 0 => Err(Refusal::Invalid(format!(
            "tempConvTTL must be a positive number of seconds (at most {MAX_TTL_SECS}), not {secs}"
        ))),
        Some(secs) => Ok(secs.min(MAX_TTL_SECS)),
    }
}

/// Makes the new record `conv` temporary: it lives `ttl_secs` from its creation and is
/// never unique (each start makes a new one). A transient one is refused.
pub fn make(conv: &mut Conversation, ttl_secs: i64) -> Result<(), Refusal> {
    if conv.transient {
        return Err(Refusal::Invalid(
            "a temporary conversation cannot be transient".into(),
        ));
    }
    conv.unique = false;
    conv.unique_key = None;
    let expires_at = conv
        .created_at
        .saturating_add(ttl_secs.saturating_mul(1000));
    conv.extra
        .insert(EXPIRES_AT.into(), Value::from(expires_at));
    Ok(())
}

/// Whether a match document (`Conversation::match_doc`) is past its expiry at `now`.
pub fn doc_expired(doc: &Value, now: i64) -> bool {
    doc.get(EXPIRES_AT)
        .and_then(Value::as_i64)
        .is_some_and(|at| at <= now)
}

impl Conversation {
    /// When a temporary conversation expires (ms); `None` for the others.
    pub fn expires_at(&self) -> Option<i64> {
        self.extra.get(EXPIRES_AT).and_then(Value::as_i64)
    }

    /// Its whole lifetime in seconds (`tempConvTTL` of `conv started`).
    pub fn lifetime_secs(&self) -> Option<i64> {
        self.expires_at()
            .map(|at| (at - self.created_at).div_euclid(1000))
    }

    /// The seconds it has left at `now`, rounded up (the `ttl` of query rows: the
    /// SDKs take a zero as no expiry); 0 once expired.
    pub fn remaining_secs(&self, now: i64) -> Option<i64> {
        self.expires_at()
            .map(|at| (at - now).max(0).saturating_add(999) / 1000)
    }

    /// Refuses a temporary conversation past its expiry at `now`.
    pub fn alive(&self, now: i64) -> Result<(), Refusal> {
        match self.expires_at() {
            Some(at) if at <= now => Err(Refusal::Expired),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::{new_conversation, RecordLimits, StartRequest};
    use serde_json::json;

    fn conv(transient: bool) -> Conversation {
        let req = StartRequest {
            creator: "a".into(),
            creator_joins: true,
            invited: vec!["b".into()],
            attr: json!({ EXPIRES_AT: 1 })
                .as_object()
                .cloned()
                .unwrap_or_default(),
            transient,
            unique: true,
        };
        let limits = RecordLimits {
            max_members: 10,
            max_record_bytes: 1000,
        };
        new_conversation("_tmp:x".into(), req, limits, 10_000).expect("conv")
    }

    #[test]
    fn ttl_defaults_caps_and_refuses() {
        assert_eq!(ttl_secs(None), Ok(DEFAULT_TTL_SECS));
        assert_eq!(ttl_secs(Some(5)), Ok(5));
        assert_eq!(ttl_secs(Some(MAX_TTL_SECS + 1)), Ok(MAX_TTL_SECS));
        assert!(matches!(ttl_secs(Some(0)), Err(Refusal::Invalid(_))));
        assert!(matches!(ttl_secs(Some(-3)), Err(Refusal::Invalid(_))));
    }

    #[test]
    fn a_temporary_conversation_expires() {
        let mut c = conv(false);
        assert_eq!(c.expires_at(), None, "a client cannot set the reserved key");
        make(&mut c, 2).expect("temporary");
        assert!(!c.unique && c.unique_key.is_none());
        assert_eq!(c.expires_at(), Some(12_000));
        assert_eq!(c.lifetime_secs(), Some(2));
        assert_eq!(c.remaining_secs(10_001), Some(2));
        assert_eq!(c.remaining_secs(11_999), Some(1));
        assert_eq!(c.remaining_secs(20_000), Some(0));
        assert_eq!(c.alive(11_999), Ok(()));
        assert_eq!(c.alive(12_000), Err(Refusal::Expired));
        assert!(doc_expired(&c.match_doc(), 12_000));
        assert!(!doc_expired(&c.match_doc(), 11_999));
        assert!(make(&mut conv(true), 2).is_err(), "not transient");
        assert!(is_temporary(&c.id) && !is_temporary("5685c180aaaa"));
    }
}
