//! Session tokens (`st`), issued at a v3 login and presented by its reconnects (in
//! place of a signature) and by the SDKs' REST calls (`X-LC-IM-Session-Token`).
//! Stateless: `EXPIRY.HMAC.CLIENT`, the HMAC over the app, the clientId and the
//! expiry under the app's master key, so that a token outlives a server restart and
//! holds on any node.

use leanrt_protocol::signature::{sign, verify};

use crate::config::AppCheck;

/// How long a token holds, in seconds (`stTtl`). Long, so that reconnects rarely
/// fall back to a fresh login, which JS 5 makes without a signature.
pub const TTL_SECS: i64 = 7 * 24 * 3600;

/// The key tokens of an app are made with: its master key, or none for an app
/// that does not sign (its tokens then prove nothing a login would not).
pub fn key_of(app: AppCheck<'_>) -> Option<&str> {
    match app {
        AppCheck::Unknown => None,
        AppCheck::Open => Some(""),
        AppCheck::Signed { master_key } => Some(master_key),
    }
}

fn signed(app_id: &str, client: &str, expiry_ms: i64) -> String {
    format!("st:{app_id}:{client}:{expiry_ms}")
}

/// A token for `client` of `app_id`, valid for [`TTL_SECS`] from `now_ms`.
pub fn issue(key: &str, app_id: &str, client: &str, now_ms: i64) -> String {
    let expiry = now_ms.saturating_add(TTL_SECS * 1000);
    let mac = sign(key, &signed(app_id, client, expiry));
    format!("{expiry}.{mac}.{client}")
}

/// The clientId `token` was issued to, if it was issued for `app_id` under `key`
/// and still holds at `now_ms`.
pub fn holder<'t>(key: &str, app_id: &str, token: &'t str, now_ms: i64) -> Option<&'t str> {
    let mut parts = token.splitn(3, '.');
    let (expiry, mac, client) = (parts.next()?, parts.next()?, parts.next()?);
    let expiry_ms = expiry.parse::<i64>().ok()?;
    (expiry_ms > now_ms && verify(key, &signed(app_id, client, expiry_ms), mac)).then_some(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_holds_for_its_client_until_it_expires() {
        let st = issue("key", "app", "al.ice", 1_000);
        assert_eq!(holder("key", "app", &st, 1_000), Some("al.ice"));
        assert_eq!(holder("key", "other", &st, 1_000), None, "another app");
        assert_eq!(holder("other-key", "app", &st, 1_000), None, "another key");
        let expired = 1_000 + TTL_SECS * 1000;
        assert_eq!(holder("key", "app", &st, expired), None, "expired");
        let (expiry, rest) = st.split_once('.').unwrap();
        let later = format!("{}.{rest}", expiry.parse::<i64>().unwrap() + 1);
        assert_eq!(
            holder("key", "app", &later, 1_000),
            None,
            "a changed expiry"
        );
        let (head, _) = st.rsplit_once('.').unwrap();
        assert_eq!(
            holder("key", "app", &format!("{head}.bob"), 1_000),
            None,
            "another client"
        );
        assert_eq!(holder("key", "app", "junk", 1_000), None);
    }
}
