//! The napi binding: thin glue from JS to leanrt-client. One [`connection::Connection`]
//! per RealtimeObject; events reach JS in batches through [`queue`].

mod connection;
mod queue;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use leanrt_client::DEFAULT_HEARTBEAT_MS;
use napi_derive::napi;

/// `realtime.config({heartbeatsTime})`: module-global, read each time a timer is armed.
static HEARTBEAT_MS: LazyLock<Arc<AtomicU64>> =
    LazyLock::new(|| Arc::new(AtomicU64::new(DEFAULT_HEARTBEAT_MS)));

/// How many sends may wait for a connection's engine before `send` refuses more.
#[napi]
pub const SEND_QUEUE: u32 = leanrt_client::SEND_QUEUE as u32;

/// Sets the heartbeat interval (ms) of every connection, current and future.
#[napi]
pub fn set_heartbeats_time(ms: f64) {
    if ms.is_finite() && ms >= 1.0 {
        HEARTBEAT_MS.store(ms as u64, Ordering::Relaxed);
    }
}

/// Runs leanrt-server with command-line `args` (without the program name) until
/// SIGINT or SIGTERM, blocking the calling thread; returns the exit code. This is
/// what `npx leanrt-server` runs.
#[napi]
pub fn server_main(args: Vec<String>) -> i32 {
    restore_default_stop_signals();
    let argv = std::iter::once("leanrt-server".to_owned())
        .chain(args)
        .collect();
    leanrt_server::cli_main(argv)
}

/// Node's own SIGINT/SIGTERM handlers (which restore the terminal and re-raise) would
/// be chained behind the server's, re-raising forever instead of letting the server
/// drain; the server takes these signals over with the default disposition beneath.
#[cfg(unix)]
fn restore_default_stop_signals() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installing SIG_DFL is async-signal-safe and touches no Rust state.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
}

#[cfg(not(unix))]
fn restore_default_stop_signals() {}
