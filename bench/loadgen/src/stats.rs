//! Latency percentiles.

use serde_json::{json, Value};

/// Latency samples in microseconds.
#[derive(Default)]
pub struct Latencies(Vec<u64>);

impl Latencies {
    pub fn push(&mut self, micros: u64) {
        self.0.push(micros);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    /// `{p50, p99, max, n}` in microseconds.
    pub fn summary(mut self) -> Value {
        self.0.sort_unstable();
        let pick = |q: f64| -> u64 {
            if self.0.is_empty() {
                return 0;
            }
            let idx = ((self.0.len() as f64 - 1.0) * q).round() as usize;
            self.0[idx]
        };
        json!({
            "p50": pick(0.50),
            "p99": pick(0.99),
            "max": self.0.last().copied().unwrap_or(0),
            "n": self.0.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_one_to_hundred() {
        let mut l = Latencies::default();
        for v in 1..=100 {
            l.push(v);
        }
        let s = l.summary();
        assert_eq!(s["p50"], 51);
        assert_eq!(s["p99"], 99);
        assert_eq!(s["max"], 100);
        assert_eq!(s["n"], 100);
    }
}
