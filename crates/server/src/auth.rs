//! Signature checks (§6.10): HMAC-SHA1 over the signed string, a timestamp window and
//! nonce replay detection within it.
//!
//! Nonces are remembered exactly up to a capacity; older ones that are still within
//! reach of a replay move to Bloom filters of fixed size, so a replay is refused however
//! many signatures arrived in between. A false positive refuses a fresh nonce (the
//! client retries with another); the filters are sized so that this stays rare unless
//! far more than `capacity` signatures arrive per window.

use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::Duration;

use leanrt_protocol::signature::{signed_string, verify, Action};
use serde_json::{Map, Value};

use crate::time::now_ms;

/// Verifies signatures and remembers nonces.
pub struct Signatures {
    window_ms: i64,
    capacity: usize,
    nonces: Mutex<Nonces>,
}

/// Nonces seen recently (exactly), and evicted ones (in Bloom filters).
struct Nonces {
    seen: HashSet<String>,
    order: VecDeque<(i64, String)>,
    /// Evicted nonces: the current filter and the previous one.
    evicted: [Bloom; 2],
    /// When the current filter started.
    generation_start: i64,
}

/// A Bloom filter over strings.
struct Bloom {
    bits: Vec<u64>,
    hasher: RandomState,
}

/// Hash functions per entry.
const BLOOM_HASHES: u64 = 4;

impl Bloom {
    /// An empty filter; its bits are allocated on first insert.
    fn new() -> Self {
        Bloom {
            bits: Vec::new(),
            hasher: RandomState::new(),
        }
    }

    fn positions(&self, key: &str, words: usize) -> impl Iterator<Item = (usize, u64)> {
        let h1 = self.hasher.hash_one(key);
        let h2 = self.hasher.hash_one((key, 1u8)) | 1;
        let bits = (words * 64) as u64;
        (0..BLOOM_HASHES).map(move |i| {
            let bit = h1.wrapping_add(i.wrapping_mul(h2)) % bits;
            ((bit / 64) as usize, 1u64 << (bit % 64))
        })
    }

    fn insert(&mut self, key: &str, words: usize) {
        if self.bits.is_empty() {
            self.bits = vec![0; words];
        }
        for (word, mask) in self.positions(key, self.bits.len()).collect::<Vec<_>>() {
            self.bits[word] |= mask;
        }
    }

    fn contains(&self, key: &str) -> bool {
        !self.bits.is_empty()
            && self
                .positions(key, self.bits.len())
                .all(|(word, mask)| self.bits[word] & mask != 0)
    }
}

/// The signing fields of a frame: `t` as text and as ms, `n` and `s`.
struct Signed<'a> {
    t_text: String,
    t_ms: i64,
    nonce: &'a str,
    signature: &'a str,
}

fn signed_fields(frame: &Map<String, Value>) -> Option<Signed<'_>> {
    let (t_text, t) = match frame.get("t")? {
        Value::Number(n) => (n.to_string(), n.as_f64()?),
        Value::String(s) => (s.clone(), s.parse::<f64>().ok()?),
        _ => return None,
    };
    // `t` is in seconds; values that can only be milliseconds are accepted too.
    let t_ms = if t > 1e11 { t } else { t * 1000.0 } as i64;
    Some(Signed {
        t_text,
        t_ms,
        nonce: frame.get("n")?.as_str()?,
        signature: frame.get("s")?.as_str()?,
    })
}

impl Signatures {
    pub fn new(window: Duration, capacity: usize) -> Self {
        Signatures {
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX),
            capacity: capacity.max(1),
            nonces: Mutex::new(Nonces {
                seen: HashSet::new(),
                order: VecDeque::new(),
                evicted: [Bloom::new(), Bloom::new()],
                generation_start: now_ms(),
            }),
        }
    }

    /// Whether `frame` carries a valid, fresh, unused signature of `action`.
    pub fn check(
        &self,
        master_key: &str,
        app_id: &str,
        client_id: &str,
        action: Action<'_>,
        frame: &Map<String, Value>,
    ) -> bool {
        let Some(f) = signed_fields(frame) else {
            return false;
        };
        let now = now_ms();
        if now.abs_diff(f.t_ms) > self.window_ms.unsigned_abs() {
            return false;
        }
        let message = signed_string(app_id, client_id, action, &f.t_text, f.nonce);
        verify(master_key, &message, f.signature)
            && self.first_use(format!("{app_id}:{}", f.nonce), now)
    }

    /// Records a nonce; false if it was already used within reach of a replay.
    fn first_use(&self, key: String, now: i64) -> bool {
        let mut guard = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        let nonces = &mut *guard;
        // A nonce's `t` is within one window of its arrival and a replay must be within
        // one window of `t`: two windows after arrival, it can be forgotten.
        let reach = 2 * self.window_ms;
        if now - nonces.generation_start > reach {
            nonces.evicted.swap(0, 1);
            nonces.evicted[0] = Bloom::new();
            nonces.generation_start = now;
        }
        if nonces.seen.contains(&key) || nonces.evicted.iter().any(|b| b.contains(&key)) {
            return false;
        }
        // About 16 bits per entry, for `capacity` evictions per generation.
        let words = (self.capacity * 16 / 64).max(1024);
        while let Some((seen_at, _)) = nonces.order.front() {
            let expired = now - seen_at > reach;
            if !expired && nonces.order.len() < self.capacity {
                break;
            }
            if let Some((_, old)) = nonces.order.pop_front() {
                nonces.seen.remove(&old);
                if !expired {
                    nonces.evicted[0].insert(&old, words);
                }
            }
        }
        nonces.seen.insert(key.clone());
        nonces.order.push_back((now, key));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leanrt_protocol::signature::sign;
    use serde_json::json;

    fn frame(t: i64, n: &str, key: &str) -> Map<String, Value> {
        let s = sign(key, &format!("app:alice::{t}:{n}"));
        json!({"t": t, "n": n, "s": s})
            .as_object()
            .cloned()
            .expect("object")
    }

    #[test]
    fn checks_signature_window_and_nonce() {
        let sigs = Signatures::new(Duration::from_secs(60), 10);
        let now = now_ms() / 1000;
        let good = frame(now, "n1", "k");
        assert!(sigs.check("k", "app", "alice", Action::Open, &good));
        assert!(
            !sigs.check("k", "app", "alice", Action::Open, &good),
            "replay"
        );
        assert!(!sigs.check(
            "other",
            "app",
            "alice",
            Action::Open,
            &frame(now, "n2", "k")
        ));
        assert!(!sigs.check(
            "k",
            "app",
            "alice",
            Action::Open,
            &frame(now - 3600, "n3", "k")
        ));
        assert!(!sigs.check("k", "app", "bob", Action::Open, &frame(now, "n4", "k")));
    }

    #[test]
    fn absurd_timestamps_are_refused_without_overflow() {
        let sigs = Signatures::new(Duration::from_secs(60), 10);
        for t in [
            json!(-1e300),
            json!(1e300),
            json!(i64::MIN),
            json!("-1e300"),
            json!("NaN"),
        ] {
            let mut f = frame(0, "x", "k");
            f.insert("t".into(), t.clone());
            assert!(
                !sigs.check("k", "app", "alice", Action::Open, &f),
                "t = {t}"
            );
        }
    }

    #[test]
    fn evicted_nonces_are_still_refused() {
        let sigs = Signatures::new(Duration::from_secs(60), 2);
        let now = now_ms() / 1000;
        let first = frame(now, "e0", "k");
        assert!(sigs.check("k", "app", "alice", Action::Open, &first));
        for n in 1..50 {
            let f = frame(now, &format!("e{n}"), "k");
            assert!(sigs.check("k", "app", "alice", Action::Open, &f), "e{n}");
        }
        assert!(!sigs.check("k", "app", "alice", Action::Open, &first));
    }
}
