//! A member's delivery cursor in one conversation: the highest seq up to which it
//! has every message (`acked`), and the acked runs above it (normally none: acks
//! arrive in seq order, so each one just advances `acked`).

/// Acked runs kept above the cursor; beyond, the highest run is forgotten (its
/// messages count as pending again and are pushed once more at a later login).
pub const MAX_RANGES: usize = 64;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    acked: i64,
    /// Disjoint, non-adjacent, ascending, all above `acked + 1`.
    ranges: Vec<(i64, i64)>,
}

/// What an ack changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acked {
    /// The seq was already acked.
    Before,
    /// Newly acked; `ranges` tells whether the runs above the cursor changed.
    Now { ranges: bool },
}

impl Cursor {
    pub fn new(acked: i64) -> Cursor {
        Cursor {
            acked,
            ranges: Vec::new(),
        }
    }

    /// A cursor with the runs read back from storage.
    pub fn with_ranges(acked: i64, ranges: Vec<(i64, i64)>) -> Cursor {
        let mut cursor = Cursor::new(acked);
        for (lo, hi) in ranges {
            cursor.fill(lo, hi);
        }
        cursor
    }

    /// Everything up to the seq before the first of `pending` (ascending) was
    /// delivered, and so was every seq up to `last_seq` that is not in `pending`.
    pub fn from_pending(pending: &[i64], last_seq: i64) -> Cursor {
        let Some(first) = pending.first() else {
            return Cursor::new(last_seq);
        };
        let mut cursor = Cursor::new(first - 1);
        let mut next = *first;
        for &seq in pending.iter().chain(std::iter::once(&(last_seq + 1))) {
            if seq > next {
                cursor.fill(next, seq - 1);
            }
            next = next.max(seq + 1);
        }
        cursor
    }

    pub fn acked(&self) -> i64 {
        self.acked
    }

    pub fn ranges(&self) -> &[(i64, i64)] {
        &self.ranges
    }

    /// Whether `seq` was acked.
    pub fn has(&self, seq: i64) -> bool {
        seq <= self.acked || self.ranges.iter().any(|&(lo, hi)| lo <= seq && seq <= hi)
    }

    /// Records that `seq` was acked.
    pub fn ack(&mut self, seq: i64) -> Acked {
        if self.has(seq) {
            return Acked::Before;
        }
        let before = self.ranges.len();
        if seq == self.acked + 1 {
            self.acked = seq;
            // Absorb the run that now touches the cursor.
            if let Some(&(lo, hi)) = self.ranges.first() {
                if lo == self.acked + 1 {
                    self.acked = hi;
                    self.ranges.remove(0);
                }
            }
            return Acked::Now {
                ranges: self.ranges.len() != before,
            };
        }
        self.fill(seq, seq);
        Acked::Now { ranges: true }
    }

    /// Marks `lo..=hi` (all above `acked + 1`) as acked, merging runs.
    fn fill(&mut self, lo: i64, hi: i64) {
        if hi <= self.acked {
            return;
        }
        let (mut lo, mut hi) = (lo.max(self.acked + 1), hi);
        if lo == self.acked + 1 {
            self.acked = hi;
            self.ranges.retain(|&(_, h)| h > hi);
            if let Some(&(l, h)) = self.ranges.first() {
                if l <= self.acked + 1 {
                    self.acked = h;
                    self.ranges.remove(0);
                }
            }
            return;
        }
        let mut kept = Vec::with_capacity(self.ranges.len() + 1);
        for &(l, h) in &self.ranges {
            if h + 1 < lo || l > hi + 1 {
                kept.push((l, h));
            } else {
                lo = lo.min(l);
                hi = hi.max(h);
            }
        }
        kept.push((lo, hi));
        kept.sort_unstable();
        kept.truncate(MAX_RANGES);
        self.ranges = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_acks_only_move_the_cursor() {
        let mut c = Cursor::new(3);
        assert_eq!(c.ack(3), Acked::Before);
        assert_eq!(c.ack(4), Acked::Now { ranges: false });
        assert_eq!((c.acked(), c.ranges()), (4, &[][..]));
    }

    #[test]
    fn gaps_become_runs_and_close_when_filled() {
        let mut c = Cursor::new(0);
        assert_eq!(c.ack(3), Acked::Now { ranges: true });
        assert_eq!(c.ack(5), Acked::Now { ranges: true });
        assert_eq!(c.ack(4), Acked::Now { ranges: true });
        assert_eq!(c.ranges(), &[(3, 5)]);
        assert!(c.has(4) && !c.has(2) && !c.has(6));
        assert_eq!(c.ack(1), Acked::Now { ranges: false });
        assert_eq!(c.ack(2), Acked::Now { ranges: true });
        assert_eq!((c.acked(), c.ranges()), (5, &[][..]));
    }

    #[test]
    fn runs_are_bounded() {
        let mut c = Cursor::new(0);
        for k in 0..(MAX_RANGES as i64 + 10) {
            c.ack(10 + 2 * k);
        }
        assert_eq!(c.ranges().len(), MAX_RANGES);
        assert_eq!(c.ranges()[0], (10, 10));
    }

    #[test]
    fn from_v1_pending_rows() {
        let c = Cursor::from_pending(&[4, 5, 8], 10);
        assert_eq!((c.acked(), c.ranges()), (3, &[(6, 7), (9, 10)][..]));
        assert_eq!(Cursor::from_pending(&[], 7), Cursor::new(7));
        let c = Cursor::from_pending(&[2], 2);
        assert_eq!((c.acked(), c.ranges()), (1, &[][..]));
        let back = Cursor::with_ranges(3, vec![(6, 7), (9, 10)]);
        assert_eq!(back, Cursor::from_pending(&[4, 5, 8], 10));
    }
}
