//! Recipient acks waiting for a store's next batch (shared by the backends).

use std::sync::Mutex;

use super::Ack;

/// Recipient acks waiting for the writer; more are dropped (their messages stay
/// pending and are pushed again at a later login).
const MAX_QUEUED_ACKS: usize = 1 << 20;

/// Acks waiting for the next batch.
#[derive(Default)]
pub struct AckQueue {
    acks: Mutex<Vec<Ack>>,
}

impl AckQueue {
    /// Queues `acks`; true when the queue was empty (the writer needs a wake-up).
    pub fn push(&self, mut acks: Vec<Ack>) -> bool {
        let mut queued = self.acks.lock().unwrap_or_else(|e| e.into_inner());
        let was_empty = queued.is_empty();
        let room = MAX_QUEUED_ACKS.saturating_sub(queued.len());
        if acks.len() > room {
            tracing::warn!(dropped = acks.len() - room, "ack queue full");
            acks.truncate(room);
        }
        queued.append(&mut acks);
        was_empty
    }

    /// Takes every queued ack.
    pub fn take(&self) -> Vec<Ack> {
        std::mem::take(&mut *self.acks.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Whether no ack is waiting.
    pub fn is_empty(&self) -> bool {
        self.acks.lock().map(|a| a.is_empty()).unwrap_or(true)
    }
}
