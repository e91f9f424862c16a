//! The embedder's commands on their way to the engine. Frames to send wait in a
//! bounded queue ([`SEND_QUEUE`]); past it `send` is refused at once, since the
//! embedder (JS) cannot wait. Control commands are not queued: each is a slot or a
//! flag that the engine reads before any frame (the latest `session open`, the
//! wanted pause, a reconnect, a dropped socket, the close), so a full send queue
//! never holds up a close, and an idle connection carries one small struct for them
//! instead of a second channel. Released acks ([`Handle::release_acks`]) wake
//! nothing: the engine sends them with its next write or on its ack timer, so a
//! message costs no extra thread wake-up for its ack.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{channel, Receiver, Sender};
use tokio::sync::Notify;

use crate::session::Command;

/// Frames that may wait for the engine before [`Handle::command`] refuses more.
pub const SEND_QUEUE: usize = 65_536;

/// Why a command was not queued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// [`SEND_QUEUE`] frames are waiting already; the frame was not sent.
    Full,
    /// The engine has stopped.
    Stopped,
}

/// The control commands waiting for the engine.
#[derive(Default)]
struct Control {
    wake: Notify,
    close: Mutex<Option<Option<String>>>,
    open_session: Mutex<Option<String>>,
    reconnect: AtomicBool,
    drop_socket: AtomicBool,
    /// The highest [`crate::Event::Acks`] marker the embedder has dispatched.
    ack_upto: AtomicU64,
    paused: AtomicBool,
    pause_changed: AtomicBool,
}

/// Puts `value` in `slot`.
fn put<T>(slot: &Mutex<Option<T>>, value: T) {
    *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
}

/// Takes what `slot` holds.
fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// The embedder's end of a running engine. Dropping every handle closes it.
#[derive(Clone)]
pub struct Handle {
    control: Arc<Control>,
    frames: Sender<String>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl Handle {
    /// Queues a command.
    pub fn command(&self, command: Command) -> Result<(), Refused> {
        if self.frames.is_closed() {
            return Err(Refused::Stopped);
        }
        let control = &*self.control;
        match command {
            Command::Send(frame) => {
                return self.frames.try_send(frame).map_err(|e| match e {
                    TrySendError::Full(_) => Refused::Full,
                    TrySendError::Closed(_) => Refused::Stopped,
                })
            }
            Command::Close(frame) => put(&control.close, frame),
            Command::OpenSession(frame) => put(&control.open_session, frame),
            Command::Reconnect => control.reconnect.store(true, Ordering::Release),
            Command::DropSocket => control.drop_socket.store(true, Ordering::Release),
            Command::Pause(paused) => {
                control.paused.store(paused, Ordering::Release);
                control.pause_changed.store(true, Ordering::Release);
            }
        }
        control.wake.notify_one();
        Ok(())
    }

    /// The embedder has dispatched every frame before the [`crate::Event::Acks`]
    /// marker `upto`: their acks may go out.
    pub fn release_acks(&self, upto: u64) {
        self.control.ack_upto.fetch_max(upto, Ordering::AcqRel);
    }
}

/// The engine's end.
pub(crate) struct Inbox {
    control: Arc<Control>,
    frames: Receiver<String>,
}

/// A connected handle and inbox.
pub(crate) fn inbox() -> (Handle, Inbox) {
    let control = Arc::new(Control::default());
    let (frames_tx, frames) = channel(SEND_QUEUE);
    let handle = Handle {
        control: control.clone(),
        frames: frames_tx,
    };
    let inbox = Inbox { control, frames };
    (handle, inbox)
}

impl Inbox {
    /// The next command, control first; `None` once every handle is gone.
    pub(crate) async fn recv(&mut self) -> Option<Command> {
        loop {
            if let Some(command) = self.take_control() {
                return Some(command);
            }
            // `notify_one` leaves a permit when nobody waits, so no wake-up is lost.
            tokio::select! {
                biased;
                _ = self.control.wake.notified() => {}
                frame = self.frames.recv() => return frame.map(Command::Send),
            }
        }
    }

    /// A control command that is due, the most drastic first.
    fn take_control(&self) -> Option<Command> {
        let control = &*self.control;
        if let Some(frame) = take(&control.close) {
            return Some(Command::Close(frame));
        }
        if control.reconnect.swap(false, Ordering::AcqRel) {
            return Some(Command::Reconnect);
        }
        if control.drop_socket.swap(false, Ordering::AcqRel) {
            return Some(Command::DropSocket);
        }
        if let Some(frame) = take(&control.open_session) {
            return Some(Command::OpenSession(frame));
        }
        if control.pause_changed.swap(false, Ordering::AcqRel) {
            return Some(Command::Pause(control.paused.load(Ordering::Acquire)));
        }
        None
    }

    /// The highest ack marker released so far.
    pub(crate) fn released_acks(&self) -> u64 {
        self.control.ack_upto.load(Ordering::Acquire)
    }

    /// Forgets a `session open` meant for a socket that is gone.
    pub(crate) fn forget_session_open(&mut self) {
        take(&self.control.open_session);
    }

    /// A queued frame, without waiting.
    pub(crate) fn try_frame(&mut self) -> Option<String> {
        self.frames.try_recv().ok()
    }
}
