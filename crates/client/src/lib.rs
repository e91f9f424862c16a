//! The leanrt client engine: everything below the JS API, usable from Rust alone.
//!
//! The embedder (the napi addon, or a Rust program) builds frames; the engine owns
//! the connection: router lookup, the transport, heartbeat and guard timers,
//! reconnection with backoff, holding sends while offline, and acking inbound
//! messages once the embedder has dispatched them. Everything it observes comes back as [`Event`]s through an
//! [`EventSink`].

mod backoff;
mod event;
pub mod foreign;
mod frame;
mod inbox;
mod native;
pub mod router;
mod session;
mod tls;
pub mod transport;

pub use event::{Event, EventSink};
pub use native::NativeConnector;
pub use session::{spawn, Command, Config, Handle, Refused, DEFAULT_HEARTBEAT_MS, SEND_QUEUE};
