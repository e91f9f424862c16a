//! Coalesced delivery from tokio to JS. Each connection pushes its events into a
//! bounded queue of its own; one [`EventHub`] per module (one wake function, so one
//! `uv_async` handle) hands every queue that has events to JS in one call: a JSON
//! array of `[connectionId, [event, …]]` pairs that JS parses once. Connections that
//! receive at the same time therefore share a wake-up of the JS thread, and an idle
//! connection carries no wake function of its own.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use leanrt_client::{Event, EventSink};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{
    ThreadsafeFunction, ThreadsafeFunctionCallMode, ThreadsafeFunctionHandle,
};
use napi_derive::napi;
use tokio::sync::Notify;

/// Events a queue holds before its connection waits for JS to drain it.
const CAPACITY: usize = 1024;

/// Wakes JS with the drained queues. TS: `(batch: string) => void`.
type WakeFn = ThreadsafeFunction<(), (), String, Status, false>;

/// The queues with events for JS, and whether Node must stay alive for them.
#[derive(Default)]
struct Hub {
    ready: Mutex<Vec<Arc<EventQueue>>>,
    /// Connections that want Node kept alive (not retrying a never-opened login).
    holders: AtomicUsize,
    /// Whether the wake function currently holds the event loop.
    holding: AtomicBool,
    next_id: AtomicU32,
    /// The wake function's handle, for the wake function's own callback.
    wake: OnceLock<Weak<ThreadsafeFunctionHandle>>,
}

/// Where the connections of one module deliver their events.
#[napi]
pub struct EventHub {
    hub: Arc<Hub>,
    wake: Arc<WakeFn>,
}

#[napi]
impl EventHub {
    /// `on_events` receives each batch: a JSON array of `[connectionId, events]`.
    #[napi(constructor)]
    pub fn new(
        env: Env,
        #[napi(ts_arg_type = "(batch: string) => void")] on_events: Function<'_, String, ()>,
    ) -> Result<Self> {
        let hub = Arc::new(Hub::default());
        let drained = hub.clone();
        let wake = on_events
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .build_callback(move |ctx| {
                drained.sync_loop(&ctx.env);
                Ok(drained.drain())
            })?;
        let _ = hub.wake.set(Arc::downgrade(&wake.handle));
        let wake = Arc::new(wake);
        // A new wake function holds the loop; nothing needs it until a connection does.
        hub.holding.store(true, Ordering::Relaxed);
        hold_loop(&hub, &wake.handle, &env, false);
        Ok(EventHub { hub, wake })
    }
}

impl EventHub {
    /// A sink for a new connection, which holds Node alive from now on. Runs on the
    /// JS thread.
    pub(crate) fn sink(&self, env: &Env) -> JsSink {
        let id = self.hub.next_id.fetch_add(1, Ordering::Relaxed);
        self.hub.holders.fetch_add(1, Ordering::AcqRel);
        self.hub.sync_loop(env);
        JsSink {
            queue: Arc::new(EventQueue {
                id,
                state: Mutex::new(QueueState::default()),
                space: Notify::new(),
                keep_alive: AtomicBool::new(true),
            }),
            hub: self.hub.clone(),
            wake: self.wake.clone(),
        }
    }
}

/// Refs (`wanted`) or unrefs the wake function unless it already is. JS thread only.
fn hold_loop(hub: &Hub, handle: &ThreadsafeFunctionHandle, env: &Env, wanted: bool) {
    if hub.holding.load(Ordering::Relaxed) == wanted {
        return;
    }
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
            hub.holding.store(wanted, Ordering::Relaxed);
        }
    });
}

impl Hub {
    /// Refs or unrefs the wake function as the connections want. JS thread only.
    fn sync_loop(&self, env: &Env) {
        let wanted = self.holders.load(Ordering::Acquire) > 0;
        if let Some(handle) = self.wake.get().and_then(Weak::upgrade) {
            hold_loop(self, &handle, env, wanted);
        }
    }

    /// Takes every ready queue's events, as one JSON text. Runs on the JS thread.
    fn drain(&self) -> String {
        let ready = std::mem::take(&mut *self.ready.lock().unwrap_or_else(PoisonError::into_inner));
        let mut batch = String::from("[");
        for (n, queue) in ready.iter().enumerate() {
            let items = {
                let mut state = queue.state.lock().unwrap_or_else(PoisonError::into_inner);
                state.scheduled = false;
                std::mem::take(&mut state.items)
            };
            queue.space.notify_waiters();
            if n > 0 {
                batch.push(',');
            }
            batch.push_str(&format!("[{},[", queue.id));
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    batch.push(',');
                }
                batch.push_str(item);
            }
            batch.push_str("]]");
        }
        batch.push(']');
        batch
    }
}

#[derive(Default)]
struct QueueState {
    items: Vec<String>,
    /// In the hub's ready list (until JS drains it).
    scheduled: bool,
}

/// One connection's events waiting for JS.
struct EventQueue {
    id: u32,
    state: Mutex<QueueState>,
    space: Notify,
    /// Counted among the hub's holders.
    keep_alive: AtomicBool,
}

/// The engine's sink. Only the connection task owns it: when the task ends, the
/// connection stops holding Node, and JS is told (`{"$":"ended"}`) so that it forgets
/// the connection.
pub struct JsSink {
    queue: Arc<EventQueue>,
    hub: Arc<Hub>,
    wake: Arc<WakeFn>,
}

impl JsSink {
    /// The connection's id in the batches.
    pub fn id(&self) -> u32 {
        self.queue.id
    }

    /// Counts the connection among the holders of Node, or not.
    fn keep_alive(&self, wanted: bool) {
        if self.queue.keep_alive.swap(wanted, Ordering::AcqRel) != wanted {
            if wanted {
                self.hub.holders.fetch_add(1, Ordering::AcqRel);
            } else {
                self.hub.holders.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// Queues `item` if there is room, or `always`; `false` when the queue is full.
    fn offer(&self, item: &str, always: bool) -> bool {
        let schedule = {
            let mut state = self
                .queue
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if state.items.len() >= CAPACITY && !always {
                return false;
            }
            state.items.push(item.to_owned());
            !std::mem::replace(&mut state.scheduled, true)
        };
        if schedule {
            self.schedule();
        }
        true
    }

    /// Puts the queue in the hub's ready list, waking JS if the list was empty.
    fn schedule(&self) {
        let first = {
            let mut ready = self
                .hub
                .ready
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            ready.push(self.queue.clone());
            ready.len() == 1
        };
        if first {
            self.wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

impl EventSink for JsSink {
    async fn push(&self, event: Event) {
        // A connection that never opened does not hold Node while it retries
        // (2.4.0 gave up there); once a socket opens it holds Node again.
        match event {
            Event::SocketOpen => self.keep_alive(true),
            Event::Backoff { keep_alive } => self.keep_alive(keep_alive),
            _ => {}
        }
        let item = event.to_json();
        loop {
            let space = self.queue.space.notified();
            if self.offer(&item, false) {
                return;
            }
            space.await;
        }
    }
}

impl Drop for JsSink {
    fn drop(&mut self) {
        self.keep_alive(false);
        // Past the capacity if need be: it is the last item, and JS must see it.
        self.offer(r#"{"$":"ended"}"#, true);
    }
}
