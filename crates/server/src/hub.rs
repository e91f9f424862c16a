//! Presence and fan-out, behind [`Hub`]: which sessions are online for a clientId,
//! who takes part in which transient conversation, and delivery to them through
//! bounded per-connection queues.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use leanrt_protocol::ErrorCode;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// Identifies one WebSocket connection for the life of the process.
pub type ConnId = u64;

/// A request to close a connection from outside its task.
#[derive(Default)]
pub struct Kill {
    notify: Notify,
    code: AtomicU16,
}

impl Kill {
    /// Asks the connection to close with `code`; the first request wins.
    pub fn kill(&self, code: ErrorCode) {
        if self
            .code
            .compare_exchange(0, code.code(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.notify.notify_one();
        }
    }

    /// Resolves with the requested close code.
    pub async fn requested(&self) -> u16 {
        self.notify.notified().await;
        self.code.load(Ordering::Acquire)
    }
}

/// A frame waiting in a connection's queue.
#[derive(Clone, Debug)]
pub struct Queued {
    pub text: Utf8Bytes,
    /// For the live `direct` of a stored message, its commit number
    /// ([`crate::store::Message::commit`]): a session drops the ones its offline
    /// snapshot already covered (§6.5, exact login delivery).
    pub commit: Option<i64>,
}

/// The sending side of a connection: its bounded queue and its kill switch.
#[derive(Clone)]
pub struct Outbox {
    pub frames: mpsc::Sender<Queued>,
    pub kill: Arc<Kill>,
}

impl Outbox {
    /// Queues a frame without waiting; a full queue closes the connection with 4117.
    pub fn push(&self, frame: Queued) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.frames.try_send(frame) {
            self.kill.kill(ErrorCode::SlowConsumer);
        }
    }
}

/// `frame` serialised with `peerId` = `client` in front (replacing any `peerId`).
pub fn addressed(frame: &Map<String, Value>, client: &str) -> Utf8Bytes {
    Unaddressed::new(frame).to(client)
}

/// A frame serialised once without `peerId`, to be addressed to many recipients.
struct Unaddressed {
    /// The frame's JSON text without its opening `{`: `}` or `"k":v,…}`.
    rest: String,
}

impl Unaddressed {
    fn new(frame: &Map<String, Value>) -> Self {
        let body = if frame.contains_key("peerId") {
            let mut frame = frame.clone();
            frame.remove("peerId");
            Value::Object(frame).to_string()
        } else {
            serde_json::to_string(frame).unwrap_or_else(|_| "{}".into())
        };
        Unaddressed {
            rest: body[1..].to_owned(),
        }
    }

    fn to(&self, client: &str) -> Utf8Bytes {
        let peer = Value::from(client);
        let text = if self.rest == "}" {
            format!("{{\"peerId\":{peer}}}")
        } else {
            format!("{{\"peerId\":{peer},{}", self.rest)
        };
        Utf8Bytes::from(text)
    }
}

/// Why a session could not be registered.
#[derive(Debug, PartialEq, Eq)]
pub struct TooManySessions;

/// Presence and fan-out. Implementations: [`LocalHub`] (one process).
pub trait Hub: Send + Sync + 'static {
    /// Marks `client` online on `conn`, refusing more than `max_sessions` sessions.
    fn register(
        &self,
        client: &str,
        conn: ConnId,
        outbox: Outbox,
        max_sessions: usize,
    ) -> Result<(), TooManySessions>;

    /// Drops the session of `conn` and its transient memberships.
    fn unregister(&self, conn: ConnId);

    fn is_online(&self, client: &str) -> bool;

    /// Sends `frame` to every session of each of `clients`, except connection `except`.
    /// `commit` is set for the `direct` of a stored message (its commit number).
    fn deliver(
        &self,
        clients: &[String],
        frame: &Map<String, Value>,
        except: Option<ConnId>,
        commit: Option<i64>,
    );

    /// Adds the session `conn` of `client` to transient conversation `cid`.
    fn join_transient(&self, cid: &str, client: &str, conn: ConnId);

    fn leave_transient(&self, cid: &str, conn: ConnId);

    /// Distinct clientIds in transient conversation `cid`.
    fn transient_count(&self, cid: &str) -> usize;

    /// Sends `frame` to the sessions in transient conversation `cid`, except `except`.
    fn deliver_transient(&self, cid: &str, frame: &Map<String, Value>, except: Option<ConnId>);
}

struct Session {
    client: String,
    outbox: Outbox,
    transient: HashSet<String>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<ConnId, Session>,
    by_client: HashMap<String, Vec<ConnId>>,
    transient: HashMap<String, HashSet<ConnId>>,
}

/// The in-process hub.
#[derive(Default)]
pub struct LocalHub {
    state: Mutex<State>,
}

impl LocalHub {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Hub for LocalHub {
    fn register(
        &self,
        client: &str,
        conn: ConnId,
        outbox: Outbox,
        max_sessions: usize,
    ) -> Result<(), TooManySessions> {
        let mut st = self.state();
        let conns = st.by_client.entry(client.to_owned()).or_default();
        if !conns.contains(&conn) {
            if conns.len() >= max_sessions {
                return Err(TooManySessions);
            }
            conns.push(conn);
        }
        st.sessions.insert(
            conn,
            Session {
                client: client.to_owned(),
                outbox,
                transient: HashSet::new(),
            },
        );
        Ok(())
    }

    fn unregister(&self, conn: ConnId) {
        let mut st = self.state();
        let Some(session) = st.sessions.remove(&conn) else {
            return;
        };
        if let Some(conns) = st.by_client.get_mut(&session.client) {
            conns.retain(|c| *c != conn);
            if conns.is_empty() {
                st.by_client.remove(&session.client);
            }
        }
        for cid in session.transient {
            if let Some(set) = st.transient.get_mut(&cid) {
                set.remove(&conn);
                if set.is_empty() {
                    st.transient.remove(&cid);
                }
            }
        }
    }

    fn is_online(&self, client: &str) -> bool {
        self.state().by_client.contains_key(client)
    }

    fn deliver(
        &self,
        clients: &[String],
        frame: &Map<String, Value>,
        except: Option<ConnId>,
        commit: Option<i64>,
    ) {
        let body = Unaddressed::new(frame);
        let st = self.state();
        for client in clients {
            let Some(conns) = st.by_client.get(client) else {
                continue;
            };
            let targets: Vec<&Session> = conns
                .iter()
                .filter(|c| Some(**c) != except)
                .filter_map(|c| st.sessions.get(c))
                .collect();
            if targets.is_empty() {
                continue;
            }
            let text = body.to(client);
            for session in targets {
                session.outbox.push(Queued {
                    text: text.clone(),
                    commit,
                });
            }
        }
    }

    fn join_transient(&self, cid: &str, client: &str, conn: ConnId) {
        let mut st = self.state();
        let Some(session) = st.sessions.get_mut(&conn) else {
            return;
        };
        if session.client == client {
            session.transient.insert(cid.to_owned());
            st.transient.entry(cid.to_owned()).or_default().insert(conn);
        }
    }

    fn leave_transient(&self, cid: &str, conn: ConnId) {
        let mut st = self.state();
        if let Some(session) = st.sessions.get_mut(&conn) {
            session.transient.remove(cid);
        }
        if let Some(set) = st.transient.get_mut(cid) {
            set.remove(&conn);
            if set.is_empty() {
                st.transient.remove(cid);
            }
        }
    }

    fn transient_count(&self, cid: &str) -> usize {
        let st = self.state();
        st.transient.get(cid).map_or(0, |conns| {
            conns
                .iter()
                .filter_map(|c| st.sessions.get(c).map(|s| s.client.as_str()))
                .collect::<HashSet<_>>()
                .len()
        })
    }

    fn deliver_transient(&self, cid: &str, frame: &Map<String, Value>, except: Option<ConnId>) {
        let st = self.state();
        let Some(conns) = st.transient.get(cid) else {
            return;
        };
        let body = Unaddressed::new(frame);
        let mut texts: HashMap<&str, Utf8Bytes> = HashMap::new();
        for conn in conns.iter().filter(|c| Some(**c) != except) {
            if let Some(session) = st.sessions.get(conn) {
                let text = texts
                    .entry(session.client.as_str())
                    .or_insert_with(|| body.to(&session.client));
                session.outbox.push(Queued {
                    text: text.clone(),
                    commit: None,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outbox(cap: usize) -> (Outbox, mpsc::Receiver<Queued>) {
        let (tx, rx) = mpsc::channel(cap);
        (
            Outbox {
                frames: tx,
                kill: Arc::default(),
            },
            rx,
        )
    }

    #[test]
    fn addressed_puts_peer_id_first() {
        let frame = json!({"cmd":"x"});
        let text = addressed(frame.as_object().expect("object"), "a\"b");
        assert_eq!(text.as_str(), r#"{"peerId":"a\"b","cmd":"x"}"#);
        assert_eq!(addressed(&Map::new(), "a").as_str(), r#"{"peerId":"a"}"#);
        let twice = json!({"cmd":"x","peerId":"old"});
        let text = addressed(twice.as_object().expect("object"), "new");
        assert_eq!(text.as_str(), r#"{"peerId":"new","cmd":"x"}"#);
    }

    #[test]
    fn delivery_skips_the_sender_and_a_full_queue_kills() {
        let hub = LocalHub::default();
        let (a1, mut r1) = outbox(1);
        let (a2, mut r2) = outbox(1);
        hub.register("a", 1, a1, 8).expect("first");
        hub.register("a", 2, a2.clone(), 8).expect("second");
        let frame = json!({"cmd":"direct"});
        let frame = frame.as_object().expect("object");
        hub.deliver(&["a".into()], frame, Some(1), None);
        assert!(r1.try_recv().is_err());
        assert!(r2.try_recv().is_ok());
        hub.deliver(&["a".into()], frame, Some(1), None);
        hub.deliver(&["a".into()], frame, Some(1), None);
        assert_eq!(a2.kill.code.load(Ordering::Acquire), 4117);
        hub.unregister(1);
        hub.unregister(2);
        assert!(!hub.is_online("a"));
    }

    #[test]
    fn session_limit_applies_per_client() {
        let hub = LocalHub::default();
        hub.register("a", 1, outbox(1).0, 1).expect("first");
        assert_eq!(hub.register("a", 2, outbox(1).0, 1), Err(TooManySessions));
    }
}
