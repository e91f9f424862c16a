//! Signed strings and HMAC-SHA1 signatures (§6.10).
//!
//! The signature is `hex(HMAC-SHA1(master_key, string))`, lowercase. The strings are:
//!
//! | action | string |
//! |---|---|
//! | session open | `appId:clientId::t:n` |
//! | conv start | `appId:clientId:sorted(m):t:n` |
//! | conv add | `appId:clientId:cid:sorted(m):t:n:invite` |
//! | conv remove | `appId:clientId:cid:sorted(m):t:n:kick` |

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// What a signature authorises. The action is part of the signed string, with one
/// exception inherited from LeanCloud: `Open` and a `Start` with no members sign the same
/// string (`appId:clientId::t:n`). Single-use nonces keep one from being replayed as the
/// other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// `session open`.
    Open,
    /// `conv start` with the members exactly as sent.
    Start { members: &'a [String] },
    /// `conv add` (also self-join).
    Invite { cid: &'a str, members: &'a [String] },
    /// `conv remove` of anyone other than exactly oneself.
    Kick { cid: &'a str, members: &'a [String] },
}

/// `sorted(m)`: ascending string sort joined with `:`.
fn sorted_members(members: &[String]) -> String {
    let mut sorted: Vec<&str> = members.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.join(":")
}

/// The string that is signed for `action`. `timestamp` is the frame's `t` as text
/// (normally UTC seconds) and `nonce` its `n`.
pub fn signed_string(
    app_id: &str,
    client_id: &str,
    action: Action<'_>,
    timestamp: &str,
    nonce: &str,
) -> String {
    match action {
        Action::Open => format!("{app_id}:{client_id}::{timestamp}:{nonce}"),
        Action::Start { members } => {
            format!(
                "{app_id}:{client_id}:{}:{timestamp}:{nonce}",
                sorted_members(members)
            )
        }
        Action::Invite { cid, members } => format!(
            "{app_id}:{client_id}:{cid}:{}:{timestamp}:{nonce}:invite",
            sorted_members(members)
        ),
        Action::Kick { cid, members } => format!(
            "{app_id}:{client_id}:{cid}:{}:{timestamp}:{nonce}:kick",
            sorted_members(members)
        ),
    }
}

/// `hex(HMAC-SHA1(key, message))`, lowercase.
pub fn sign(master_key: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(master_key.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `signature` is the valid signature of `message`, compared in constant time.
pub fn verify(master_key: &str, message: &str, signature: &str) -> bool {
    let Ok(bytes) = hex::decode(signature) else {
        return false;
    };
    let mut mac = Hmac::<Sha1>::new_from_slice(master_key.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(message.as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn strings_match_the_spec() {
        assert_eq!(
            signed_string("app", "alice", Action::Open, "1451606400", "n1"),
            "app:alice::1451606400:n1"
        );
        let m = members(&["carol", "bob"]);
        assert_eq!(
            signed_string("app", "alice", Action::Start { members: &m }, "1", "n"),
            "app:alice:bob:carol:1:n"
        );
        assert_eq!(
            signed_string("app", "alice", Action::Start { members: &[] }, "1", "n"),
            "app:alice::1:n"
        );
        assert_eq!(
            signed_string(
                "app",
                "a",
                Action::Invite {
                    cid: "c1",
                    members: &m
                },
                "1",
                "n"
            ),
            "app:a:c1:bob:carol:1:n:invite"
        );
        assert_eq!(
            signed_string(
                "app",
                "a",
                Action::Kick {
                    cid: "c1",
                    members: &m
                },
                "1",
                "n"
            ),
            "app:a:c1:bob:carol:1:n:kick"
        );
    }

    #[test]
    fn hmac_sha1_known_vector() {
        // RFC 2202 test case 2.
        assert_eq!(
            sign("Jefe", "what do ya want for nothing?"),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn verify_accepts_only_the_right_signature() {
        let s = sign("key", "msg");
        assert!(verify("key", "msg", &s));
        assert!(verify("key", "msg", &s.to_uppercase()));
        assert!(!verify("key", "msg2", &s));
        assert!(!verify("other", "msg", &s));
        assert!(!verify("key", "msg", "not hex"));
    }

    #[test]
    fn open_and_an_empty_start_share_their_string_as_on_leancloud() {
        assert_eq!(
            signed_string("app", "a", Action::Open, "1", "n"),
            signed_string("app", "a", Action::Start { members: &[] }, "1", "n")
        );
    }

    #[test]
    fn an_open_signature_does_not_verify_as_a_kick() {
        let open = signed_string("app", "a", Action::Open, "1", "n");
        let kick = signed_string(
            "app",
            "a",
            Action::Kick {
                cid: "",
                members: &[],
            },
            "1",
            "n",
        );
        assert!(!verify("k", &kick, &sign("k", &open)));
    }
}
