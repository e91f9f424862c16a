//! The export's progress: one line redrawn in place on a terminal, plain lines every
//! few seconds otherwise (logs, CI).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often a plain progress line is printed.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

pub struct Progress {
    terminal: bool,
    started: Instant,
    last: Option<Instant>,
    /// Records at the start of this run (a resumed run counts its own rate).
    base: u64,
    /// The share done when this run first told one.
    first_fraction: Option<f64>,
}

/// A snapshot to show.
pub struct Snapshot {
    pub conversations: u64,
    pub messages: u64,
    pub pages: u64,
    /// Share of the work done, when it can be told (0..=1).
    pub fraction: Option<f64>,
}

impl Progress {
    pub fn new(records_before: u64) -> Progress {
        Progress {
            terminal: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last: None,
            base: records_before,
            first_fraction: None,
        }
    }

    fn line(&mut self, s: &Snapshot) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let done_now = (s.conversations + s.messages).saturating_sub(self.base);
        let rate = done_now as f64 / secs;
        let first = *self.first_fraction.get_or_insert(s.fraction.unwrap_or(0.0));
        let left = s
            .fraction
            .filter(|f| *f > first && *f < 1.0)
            .map(|f| {
                // This run's pace, extrapolated to what is left.
                let left = secs * (1.0 - f) / (f - first);
                format!(", about {} left", duration(left))
            })
            .unwrap_or_default();
        format!(
            "{} conversations, {} messages, {} pages, {rate:.0} records/s{left}",
            s.conversations, s.messages, s.pages
        )
    }

    /// Shows `s` if it is time to.
    pub fn update(&mut self, s: &Snapshot) {
        let due = self.last.is_none_or(|t| t.elapsed() >= PLAIN_EVERY);
        let line = self.line(s);
        let mut err = std::io::stderr();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        } else if due {
            let _ = writeln!(err, "{line}");
            self.last = Some(Instant::now());
        }
    }

    /// A line that stays (a phase starting or ending, a warning).
    pub fn say(&self, text: &str) {
        let mut err = std::io::stderr();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K");
        }
        let _ = writeln!(err, "{text}");
    }
}

fn duration(secs: f64) -> String {
    let secs = secs.round() as u64;
    match secs {
        0..=99 => format!("{secs} s"),
        100..=5999 => format!("{} min", secs.div_ceil(60)),
        _ => format!("{:.1} h", secs as f64 / 3600.0),
    }
}
