//! The nonce replay cache of one process.
//!
//! Nonces are remembered exactly up to a capacity; older ones that are still within
//! reach of a replay move to Bloom filters of fixed size, so a replay is refused however
//! many signatures arrived in between. A false positive refuses a fresh nonce (the
//! client retries with another); the filters are sized so that this stays rare unless
//! far more than `capacity` signatures arrive per window.

use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::future::ready;
use std::hash::BuildHasher;
use std::sync::Mutex;

use futures_util::future::BoxFuture;

use super::NonceCache;

/// The in-process [`NonceCache`].
pub struct LocalNonces {
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

impl LocalNonces {
    /// Remembers up to `capacity` nonces exactly.
    pub fn new(capacity: usize, now: i64) -> Self {
        LocalNonces {
            capacity: capacity.max(1),
            nonces: Mutex::new(Nonces {
                seen: HashSet::new(),
                order: VecDeque::new(),
                evicted: [Bloom::new(), Bloom::new()],
                generation_start: now,
            }),
        }
    }

    /// Records a nonce; false if it was already used within reach of a replay.
    fn record(&self, key: String, now: i64, reach: i64) -> bool {
        let mut guard = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        let nonces = &mut *guard;
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

impl NonceCache for LocalNonces {
    fn first_use(&self, key: String, now: i64, reach: i64) -> BoxFuture<'_, bool> {
        Box::pin(ready(self.record(key, now, reach)))
    }
}
