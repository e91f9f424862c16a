//! The messages a session was sent and has not acked yet, so that a recipient's
//! `ack {cid, mid}` resolves to a seq here, without the store. An ack of anything
//! else (a made-up id, a repeat) costs the store nothing.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::domain::StoredMessage;
use crate::store::Ack;

/// Unacked messages remembered per session; beyond, the oldest is forgotten (its
/// ack is then ignored and the message stays pending for a later login).
pub const MAX_UNACKED: usize = 4096;
/// Ring capacity kept while idle.
const IDLE_CAPACITY: usize = 32;

struct Sent {
    cid: Arc<str>,
    mid: Box<str>,
    seq: i64,
    timestamp: i64,
    /// The sender, for messages that asked for receipts.
    receipt_to: Option<Box<str>>,
}

impl Sent {
    fn ack(&self, client: &Arc<str>) -> Ack {
        Ack {
            cid: self.cid.clone(),
            client: client.clone(),
            seq: self.seq,
            receipt: self
                .receipt_to
                .as_ref()
                .map(|to| (self.mid.to_string(), to.to_string())),
        }
    }
}

#[derive(Default)]
pub struct Delivered {
    ring: VecDeque<Sent>,
}

impl Delivered {
    /// Remembers a stored message written to the session.
    pub fn sent(&mut self, m: &StoredMessage) {
        if self.ring.len() >= MAX_UNACKED {
            self.ring.pop_front();
        }
        self.ring.push_back(Sent {
            cid: m.cid.clone(),
            mid: m.id.as_str().into(),
            seq: m.seq,
            timestamp: m.timestamp,
            receipt_to: m.receipt.then(|| m.from.as_str().into()),
        });
    }

    /// The ack to record for `client`'s ack of `mid` in `cid`, if it was sent here
    /// and not acked yet. Acks come in the order of delivery, so the search normally
    /// stops at the first entry.
    pub fn acked(&mut self, client: &Arc<str>, cid: &str, mid: &str) -> Option<Ack> {
        let at = self
            .ring
            .iter()
            .position(|s| &*s.mid == mid && &*s.cid == cid)?;
        let sent = self.ring.remove(at)?;
        self.shrink_if_idle();
        Some(sent.ack(client))
    }

    /// The acks for every message of `cid` sent here with a timestamp in
    /// `from..=to` and not acked yet (v3 acks a range).
    pub fn acked_range(&mut self, client: &Arc<str>, cid: &str, from: i64, to: i64) -> Vec<Ack> {
        let mut acks = Vec::new();
        self.ring.retain(|s| {
            let hit = &*s.cid == cid && (from..=to).contains(&s.timestamp);
            if hit {
                acks.push(s.ack(client));
            }
            !hit
        });
        self.shrink_if_idle();
        acks
    }

    fn shrink_if_idle(&mut self) {
        if self.ring.is_empty() && self.ring.capacity() > IDLE_CAPACITY {
            self.ring = VecDeque::new();
        }
    }

    /// Whether `n` more messages fit without forgetting any unacked one.
    pub fn has_room(&self, n: usize) -> bool {
        self.ring.len() + n <= MAX_UNACKED
    }

    pub fn clear(&mut self) {
        self.ring = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: i64, receipt: bool) -> StoredMessage {
        StoredMessage {
            cid: Arc::from("c"),
            seq,
            id: format!("m{seq}"),
            from: "a".into(),
            data: String::new(),
            timestamp: 0,
            ack_at: None,
            receipt,
            extras: None,
        }
    }

    #[test]
    fn acks_resolve_once_and_only_for_what_was_sent() {
        let me: Arc<str> = Arc::from("b");
        let mut d = Delivered::default();
        d.sent(&msg(1, false));
        d.sent(&msg(2, true));
        assert!(d.acked(&me, "c", "made-up").is_none());
        assert!(d.acked(&me, "other", "m1").is_none());
        let ack = d.acked(&me, "c", "m2").expect("sent");
        assert_eq!((ack.seq, ack.receipt), (2, Some(("m2".into(), "a".into()))));
        assert!(d.acked(&me, "c", "m2").is_none(), "a repeat costs nothing");
        assert_eq!(d.acked(&me, "c", "m1").map(|a| a.seq), Some(1));
    }

    #[test]
    fn a_range_acks_what_was_sent_in_it() {
        let me: Arc<str> = Arc::from("b");
        let mut d = Delivered::default();
        for seq in 1..=4 {
            let mut m = msg(seq, seq == 2);
            m.timestamp = seq * 10;
            d.sent(&m);
        }
        let acks = d.acked_range(&me, "c", 20, 30);
        let seqs: Vec<i64> = acks.iter().map(|a| a.seq).collect();
        assert_eq!(seqs, [2, 3]);
        assert_eq!(acks[0].receipt, Some(("m2".into(), "a".into())));
        assert!(
            d.acked_range(&me, "c", 20, 30).is_empty(),
            "a repeat costs nothing"
        );
        assert!(d.acked_range(&me, "other", 0, 100).is_empty());
        assert_eq!(d.acked_range(&me, "c", 0, 100).len(), 2);
    }

    #[test]
    fn the_ring_is_bounded() {
        let me: Arc<str> = Arc::from("b");
        let mut d = Delivered::default();
        for seq in 0..(MAX_UNACKED as i64 + 1) {
            d.sent(&msg(seq, false));
        }
        assert!(d.acked(&me, "c", "m0").is_none());
        assert!(d.acked(&me, "c", "m1").is_some());
    }
}
