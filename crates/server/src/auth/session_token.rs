//! Session tokens (`st`), issued at a v3 login and presented by its reconnects (in
//! place of a signature) and by the SDKs' REST calls (`X-LC-IM-Session-Token`).
//! Stateless: `EXPIRY.HMAC.CLIENT`, the HMAC over the app, the clientId and the
//! expiry under the app's master key, so that a token outlives a server restart and
//! holds on any node. A login under a `tag` also carries its device, which the
//! SDKs' reconnects do not repeat: `EXPIRY.HMAC~DEVICE.CLIENT`, `DEVICE` the
//! URL-safe base64 of `[tag, id]` (signed too).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use leanrt_protocol::signature::{sign, verify};

use crate::config::AppCheck;
use crate::domain::Device;

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

fn signed(app_id: &str, client: &str, expiry_ms: i64, device: Option<&str>) -> String {
    match device {
        None => format!("st:{app_id}:{client}:{expiry_ms}"),
        Some(device) => format!("st:{app_id}:{client}:{expiry_ms}:{device}"),
    }
}

/// Who a token was issued to.
#[derive(Debug, PartialEq, Eq)]
pub struct Holder<'t> {
    pub client: &'t str,
    pub device: Option<Device>,
}

/// A token for `client` of `app_id` (logged in from `device`), valid for
/// [`TTL_SECS`] from `now_ms`.
pub fn issue(
    key: &str,
    app_id: &str,
    client: &str,
    device: Option<&Device>,
    now_ms: i64,
) -> String {
    let expiry = now_ms.saturating_add(TTL_SECS * 1000);
    let device = device.map(|d| {
        let pair = serde_json::json!([d.tag, d.id]).to_string();
        URL_SAFE_NO_PAD.encode(pair)
    });
    let mac = sign(key, &signed(app_id, client, expiry, device.as_deref()));
    match device {
        None => format!("{expiry}.{mac}.{client}"),
        Some(device) => format!("{expiry}.{mac}~{device}.{client}"),
    }
}

/// Who `token` was issued to, if it was issued for `app_id` under `key` and still
/// holds at `now_ms`.
pub fn holder<'t>(key: &str, app_id: &str, token: &'t str, now_ms: i64) -> Option<Holder<'t>> {
    let mut parts = token.splitn(3, '.');
    let (expiry, mac, client) = (parts.next()?, parts.next()?, parts.next()?);
    let (mac, device) = match mac.split_once('~') {
        Some((mac, device)) => (mac, Some(device)),
        None => (mac, None),
    };
    let expiry_ms = expiry.parse::<i64>().ok()?;
    if expiry_ms <= now_ms || !verify(key, &signed(app_id, client, expiry_ms, device), mac) {
        return None;
    }
    let device = match device {
        None => None,
        Some(device) => {
            let pair = URL_SAFE_NO_PAD.decode(device).ok()?;
            let (tag, id): (String, String) = serde_json::from_slice(&pair).ok()?;
            Some(Device { tag, id })
        }
    };
    Some(Holder { client, device })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_of<'t>(key: &str, app: &str, st: &'t str, now: i64) -> Option<&'t str> {
        holder(key, app, st, now).map(|h| h.client)
    }

    #[test]
    fn a_token_carries_its_device() {
        let phone = Device {
            tag: "mobile~.x".into(),
            id: "dev.1".into(),
        };
        let st = issue("key", "app", "al.ice", Some(&phone), 1_000);
        let held = holder("key", "app", &st, 1_000).expect("valid");
        assert_eq!((held.client, held.device), ("al.ice", Some(phone)));
        let (head, client) = st.split_once("~").unwrap();
        let bare = format!("{head}.{}", client.split_once('.').unwrap().1);
        assert_eq!(holder("key", "app", &bare, 1_000), None, "device dropped");
    }

    #[test]
    fn a_token_holds_for_its_client_until_it_expires() {
        let st = issue("key", "app", "al.ice", None, 1_000);
        assert_eq!(client_of("key", "app", &st, 1_000), Some("al.ice"));
        assert_eq!(client_of("key", "other", &st, 1_000), None, "another app");
        assert_eq!(
            client_of("other-key", "app", &st, 1_000),
            None,
            "another key"
        );
        let expired = 1_000 + TTL_SECS * 1000;
        assert_eq!(client_of("key", "app", &st, expired), None, "expired");
        let (expiry, rest) = st.split_once('.').unwrap();
        let later = format!("{}.{rest}", expiry.parse::<i64>().unwrap() + 1);
        assert_eq!(
            client_of("key", "app", &later, 1_000),
            None,
            "a changed expiry"
        );
        let (head, _) = st.rsplit_once('.').unwrap();
        assert_eq!(
            client_of("key", "app", &format!("{head}.bob"), 1_000),
            None,
            "another client"
        );
        assert_eq!(client_of("key", "app", "junk", 1_000), None);
    }
}
