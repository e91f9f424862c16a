//! Reconnect delays: 5 s first (as 2.4.0), doubling, capped, with jitter.

use std::time::Duration;

/// The delay before the next reconnect attempt.
#[derive(Debug)]
pub(crate) struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(base: Duration) -> Self {
        Backoff {
            base,
            cap: base.saturating_mul(12),
            attempt: 0,
        }
    }

    /// The next delay: `base * 2^attempt`, capped, plus up to 20 % random jitter.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let exp = self.base.saturating_mul(1u32 << self.attempt.min(10));
        self.attempt = self.attempt.saturating_add(1);
        let delay = exp.min(self.cap);
        delay + delay.mul_f64(rand::random::<f64>() * 0.2)
    }

    /// A session opened: the next outage starts again from `base`.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_base_doubles_and_caps() {
        let base = Duration::from_secs(5);
        let mut b = Backoff::new(base);
        let first = b.next_delay();
        assert!(first >= base && first <= base.mul_f64(1.2));
        let second = b.next_delay();
        assert!(second >= base * 2);
        for _ in 0..20 {
            assert!(b.next_delay() <= base.saturating_mul(12).mul_f64(1.2));
        }
        b.reset();
        assert!(b.next_delay() <= base.mul_f64(1.2));
    }
}
