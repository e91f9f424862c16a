//! The queue from callers to a store's writer.

use std::sync::Mutex;

use tokio::sync::mpsc;

/// Unbounded: each connection bounds what it queues (one request, and a window of
/// messages), and an operation is queued in the caller's order when it is made.
pub struct JobQueue<J> {
    jobs: Mutex<Option<mpsc::UnboundedSender<J>>>,
}

impl<J> JobQueue<J> {
    pub fn new() -> (JobQueue<J>, mpsc::UnboundedReceiver<J>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            JobQueue {
                jobs: Mutex::new(Some(tx)),
            },
            rx,
        )
    }

    /// Queues `job`; false when the queue is closed.
    pub fn send(&self, job: J) -> bool {
        self.jobs
            .lock()
            .ok()
            .and_then(|jobs| jobs.as_ref().map(|tx| tx.send(job).is_ok()))
            .unwrap_or(false)
    }

    /// Closes the queue: the writer ends after the jobs already queued.
    pub fn close(&self) {
        drop(self.jobs.lock().ok().and_then(|mut jobs| jobs.take()));
    }
}
