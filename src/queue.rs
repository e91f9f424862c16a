//! Coalesced delivery from tokio to JS. The engine pushes events into a bounded
//! per-connection queue; only when the queue goes from empty to non-empty is JS
//! woken, and it then takes the whole queue as one JSON-array string that it
//! parses once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use leanrt_client::{Event, EventSink};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{
    ThreadsafeFunction, ThreadsafeFunctionCallMode, ThreadsafeFunctionHandle,
};
use tokio::sync::Notify;

/// Events a queue holds before the engine waits for JS to drain it.
const CAPACITY: usize = 1024;

/// Wakes JS with the drained queue. TS: `(batch: string) => void`, `batch` being a
/// JSON array of frames and `{"$": name, ...}` engine events.
pub type WakeFn = ThreadsafeFunction<(), (), String, Status, false>;

/// The events waiting for JS, and whether the connection should keep Node alive.
#[derive(Default)]
pub struct EventQueue {
    items: Mutex<Vec<String>>,
    space: Notify,
    /// Wanted: false while retrying a connection that never opened a session.
    keep_alive: AtomicBool,
    /// Applied: whether the wake function currently holds the event loop.
    holding: AtomicBool,
    wake: OnceLock<Weak<ThreadsafeFunctionHandle>>,
}

impl EventQueue {
    /// Takes everything queued, as a JSON array. Runs on the JS thread.
    fn drain(&self) -> String {
        let items = std::mem::take(&mut *self.items.lock().unwrap_or_else(PoisonError::into_inner));
        self.space.notify_waiters();
        let mut batch = String::with_capacity(2 + items.iter().map(|s| s.len() + 1).sum::<usize>());
        batch.push('[');
        for (n, item) in items.iter().enumerate() {
            if n > 0 {
                batch.push(',');
            }
            batch.push_str(item);
        }
        batch.push(']');
        batch
    }

    /// Refs or unrefs the wake function as wanted. Runs on the JS thread.
    fn hold_loop(&self, env: &Env) {
        let wanted = self.keep_alive.load(Ordering::Relaxed);
        if self.holding.load(Ordering::Relaxed) == wanted {
            return;
        }
        let Some(handle) = self.wake.get().and_then(Weak::upgrade) else {
            return;
        };
        handle.with_read_aborted(|aborted| {
            if aborted {
                return;
            }
            let raw = handle.get_raw();
            // SAFETY: on the JS thread, with the live (not aborted) function's handle.
            let status = unsafe {
                if wanted {
                    napi::sys::napi_ref_threadsafe_function(env.raw(), raw)
                } else {
                    napi::sys::napi_unref_threadsafe_function(env.raw(), raw)
                }
            };
            if status == napi::sys::Status::napi_ok {
                self.holding.store(wanted, Ordering::Relaxed);
            }
        });
    }
}

/// The engine's sink. Only the connection task owns it, so the wake function (and
/// with it the JS callback and everything it references) lives exactly as long as
/// the connection: after `close()` nothing keeps Node running.
pub struct JsSink {
    queue: Arc<EventQueue>,
    wake: WakeFn,
}

impl JsSink {
    /// A sink waking `callback`, which receives the drained batch.
    pub fn new(callback: Function<'_, String, ()>) -> Result<Self> {
        let queue = Arc::new(EventQueue {
            keep_alive: AtomicBool::new(true),
            holding: AtomicBool::new(true),
            ..EventQueue::default()
        });
        let drained = queue.clone();
        let wake = callback
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .build_callback(move |ctx| {
                drained.hold_loop(&ctx.env);
                Ok(drained.drain())
            })?;
        let _ = queue.wake.set(Arc::downgrade(&wake.handle));
        Ok(JsSink { queue, wake })
    }
}

impl EventSink for JsSink {
    async fn push(&self, event: Event) {
        // A connection that never opened does not hold Node while it retries
        // (2.4.0 gave up there); once a socket opens it holds Node again.
        match event {
            Event::SocketOpen => self.queue.keep_alive.store(true, Ordering::Relaxed),
            Event::Backoff { keep_alive } => {
                self.queue.keep_alive.store(keep_alive, Ordering::Relaxed)
            }
            _ => {}
        }
        let item = event.to_json();
        loop {
            let space = self.queue.space.notified();
            {
                let mut items = self
                    .queue
                    .items
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if items.len() < CAPACITY {
                    items.push(item);
                    if items.len() == 1 {
                        self.wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
                    }
                    return;
                }
            }
            space.await;
        }
    }
}
