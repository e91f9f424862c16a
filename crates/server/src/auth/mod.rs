//! Signature checks (§6.10): HMAC-SHA1 over the signed string, a timestamp window and
//! nonce replay detection within it, through a [`NonceCache`] that a networked
//! backend can share between nodes.

mod nonces;
pub mod session_token;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use leanrt_protocol::command::Signature;
use leanrt_protocol::signature::{signed_string, verify, Action};

pub use nonces::LocalNonces;

use crate::time::now_ms;

/// Remembers used nonces.
pub trait NonceCache: Send + Sync + 'static {
    /// Records `key` as used at `now` (ms); false if it was used within `reach` ms.
    fn first_use(&self, key: String, now: i64, reach: i64) -> BoxFuture<'_, bool>;
}

/// Verifies signatures.
pub struct Signatures {
    window_ms: i64,
    nonces: Arc<dyn NonceCache>,
}

impl Signatures {
    pub fn new(window: Duration, nonces: Arc<dyn NonceCache>) -> Self {
        Signatures {
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX),
            nonces,
        }
    }

    /// Whether `signature` is a valid, fresh, unused signature of `action`.
    pub async fn check(
        &self,
        master_key: &str,
        app_id: &str,
        client_id: &str,
        action: Action<'_>,
        signature: Option<&Signature>,
    ) -> bool {
        let Some(sig) = signature else {
            return false;
        };
        let now = now_ms();
        if now.abs_diff(sig.t_ms) > self.window_ms.unsigned_abs() {
            return false;
        }
        let message = signed_string(app_id, client_id, action, &sig.t_text, &sig.nonce);
        if !verify(master_key, &message, &sig.signature) {
            return false;
        }
        // A nonce's `t` is within one window of its arrival and a replay must be within
        // one window of `t`: two windows after arrival, it can be forgotten.
        let reach = self.window_ms.saturating_mul(2);
        self.nonces
            .first_use(format!("{app_id}:{}", sig.nonce), now, reach)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use leanrt_protocol::signature::sign;

    fn sig(t: i64, n: &str, key: &str) -> Signature {
        Signature {
            t_text: t.to_string(),
            t_ms: t * 1000,
            nonce: n.into(),
            signature: sign(key, &format!("app:alice::{t}:{n}")),
        }
    }

    fn signatures(window: u64, capacity: usize) -> Signatures {
        let nonces = Arc::new(LocalNonces::new(capacity, now_ms()));
        Signatures::new(Duration::from_secs(window), nonces)
    }

    fn check(s: &Signatures, key: &str, client: &str, sig: &Signature) -> bool {
        s.check(key, "app", client, Action::Open, Some(sig))
            .now_or_never()
            .expect("local checks are immediate")
    }

    #[test]
    fn checks_signature_window_and_nonce() {
        let sigs = signatures(60, 10);
        let now = now_ms() / 1000;
        let good = sig(now, "n1", "k");
        assert!(check(&sigs, "k", "alice", &good));
        assert!(!check(&sigs, "k", "alice", &good), "replay");
        assert!(!check(&sigs, "other", "alice", &sig(now, "n2", "k")));
        assert!(!check(&sigs, "k", "alice", &sig(now - 3600, "n3", "k")));
        assert!(!check(&sigs, "k", "bob", &sig(now, "n4", "k")));
    }

    #[test]
    fn evicted_nonces_are_still_refused() {
        let sigs = signatures(60, 2);
        let now = now_ms() / 1000;
        let first = sig(now, "e0", "k");
        assert!(check(&sigs, "k", "alice", &first));
        for n in 1..50 {
            assert!(
                check(&sigs, "k", "alice", &sig(now, &format!("e{n}"), "k")),
                "e{n}"
            );
        }
        assert!(!check(&sigs, "k", "alice", &first));
    }
}
