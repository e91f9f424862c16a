//! A connection's outbound queue of pushes: bounded, never blocking the pusher, and
//! allocating nothing while idle. A full queue closes the connection with 4117.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use leanrt_protocol::ErrorCode;
use tokio::sync::Notify;

use crate::domain::event::Push;

/// Queue capacity kept after a burst drained; larger buffers are released.
const IDLE_CAPACITY: usize = 64;

pub struct Outbox {
    queue: Mutex<VecDeque<Arc<Push>>>,
    capacity: usize,
    ready: Notify,
    killed: Notify,
    code: AtomicU16,
    /// Pushes may have been lost (a networked hub's link dropped): the session
    /// should compare what it has with the store.
    resync: AtomicBool,
}

impl Outbox {
    pub fn new(capacity: usize) -> Arc<Outbox> {
        Arc::new(Outbox {
            queue: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            ready: Notify::new(),
            killed: Notify::new(),
            code: AtomicU16::new(0),
            resync: AtomicBool::new(false),
        })
    }

    /// Queues `pushes` without waiting (one wake-up for all); a full queue closes the
    /// connection with 4117.
    pub fn push(&self, pushes: &[Arc<Push>]) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.len() + pushes.len() > self.capacity {
            drop(queue);
            self.kill(ErrorCode::SlowConsumer);
            return;
        }
        let was_empty = queue.is_empty();
        queue.extend(pushes.iter().cloned());
        drop(queue);
        if was_empty {
            self.ready.notify_one();
        }
    }

    /// Moves up to `max` queued pushes into `into`, oldest first. When some are
    /// left, [`Outbox::ready`] resolves again at once.
    pub fn drain(&self, max: usize, into: &mut Vec<Arc<Push>>) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let n = max.min(queue.len());
        into.extend(queue.drain(..n));
        let left = !queue.is_empty();
        if !left && queue.capacity() > IDLE_CAPACITY {
            *queue = VecDeque::new();
        }
        drop(queue);
        if left {
            self.ready.notify_one();
        }
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.queue.lock().map(|q| q.is_empty()).unwrap_or(true)
    }

    /// Marks that pushes may have been lost, and wakes the connection.
    pub fn resync(&self) {
        self.resync.store(true, Ordering::Release);
        self.ready.notify_one();
    }

    /// Whether a resync was asked for since the last call.
    pub fn take_resync(&self) -> bool {
        self.resync.swap(false, Ordering::AcqRel)
    }

    /// Resolves once something may have been queued since the last call.
    pub async fn ready(&self) {
        self.ready.notified().await
    }

    /// Asks the connection to close with `code`; the first request wins.
    pub fn kill(&self, code: ErrorCode) {
        if self
            .code
            .compare_exchange(0, code.code(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.killed.notify_one();
        }
    }

    /// Resolves with the requested close code.
    pub async fn killed(&self) -> u16 {
        self.killed.notified().await;
        self.code.load(Ordering::Acquire)
    }

    #[cfg(test)]
    pub fn kill_code(&self) -> u16 {
        self.code.load(Ordering::Acquire)
    }
}
