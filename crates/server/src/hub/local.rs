//! The in-process hub: every session of this process in one table.

use std::collections::{HashMap, HashSet};
use std::future::ready;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::future::BoxFuture;
use leanrt_protocol::ErrorCode;

use super::{Hub, Outbox, SessionId, TooManySessions};
use crate::domain::event::Push;
use crate::domain::Device;

struct Session {
    client: String,
    outbox: Arc<Outbox>,
    rooms: HashSet<String>,
}

#[derive(Default)]
struct State {
    /// By connection number: every session here is of this node.
    sessions: HashMap<u64, Session>,
    by_client: HashMap<String, Vec<u64>>,
    rooms: HashMap<String, HashSet<u64>>,
    /// Single-device login: `(clientId, tag)` → the device that last logged in (one
    /// entry per clientId and tag ever used, kept while the process runs).
    devices: HashMap<(String, String), String>,
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

    fn attach_now(
        &self,
        client: &str,
        conn: u64,
        outbox: Arc<Outbox>,
        max_sessions: usize,
    ) -> Result<(), TooManySessions> {
        let mut st = self.state();
        let conns = st.by_client.entry(client.to_owned()).or_default();
        if !conns.contains(&conn) {
            if conns.len() >= max_sessions {
                if conns.is_empty() {
                    st.by_client.remove(client);
                }
                return Err(TooManySessions);
            }
            conns.push(conn);
        }
        st.sessions.insert(
            conn,
            Session {
                client: client.to_owned(),
                outbox,
                rooms: HashSet::new(),
            },
        );
        Ok(())
    }

    fn detach_now(&self, conn: u64) {
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
        for cid in session.rooms {
            leave(&mut st, &cid, conn);
        }
    }

    fn deliver_now(&self, clients: &[String], except: Option<&SessionId>, pushes: &[Arc<Push>]) {
        let skip = except.map(|s| s.conn);
        let st = self.state();
        for client in clients {
            let Some(conns) = st.by_client.get(client) else {
                continue;
            };
            for conn in conns.iter().filter(|c| Some(**c) != skip) {
                if let Some(session) = st.sessions.get(conn) {
                    session.outbox.push(pushes);
                }
            }
        }
    }

    fn join_now(&self, cid: &str, client: &str, conn: u64) {
        let mut st = self.state();
        let Some(session) = st.sessions.get_mut(&conn) else {
            return;
        };
        if session.client == client {
            session.rooms.insert(cid.to_owned());
            st.rooms.entry(cid.to_owned()).or_default().insert(conn);
        }
    }

    fn leave_now(&self, cid: &str, conn: u64) {
        let mut st = self.state();
        if let Some(session) = st.sessions.get_mut(&conn) {
            session.rooms.remove(cid);
        }
        leave(&mut st, cid, conn);
    }

    fn count_now(&self, cid: &str) -> usize {
        let st = self.state();
        st.rooms.get(cid).map_or(0, |conns| {
            conns
                .iter()
                .filter_map(|c| st.sessions.get(c).map(|s| s.client.as_str()))
                .collect::<HashSet<_>>()
                .len()
        })
    }

    /// The distinct clientIds in room `cid`, sorted.
    fn clients_now(&self, cid: &str) -> Vec<String> {
        let st = self.state();
        let mut clients: Vec<String> = st.rooms.get(cid).map_or(Vec::new(), |conns| {
            conns
                .iter()
                .filter_map(|c| st.sessions.get(c).map(|s| s.client.clone()))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect()
        });
        clients.sort_unstable();
        clients
    }

    fn deliver_room_now(&self, cid: &str, except: Option<&SessionId>, pushes: &[Arc<Push>]) {
        let skip = except.map(|s| s.conn);
        let st = self.state();
        let Some(conns) = st.rooms.get(cid) else {
            return;
        };
        for conn in conns.iter().filter(|c| Some(**c) != skip) {
            if let Some(session) = st.sessions.get(conn) {
                session.outbox.push(pushes);
            }
        }
    }
}

impl LocalHub {
    /// The clientId of local session `conn` and the transient conversations it is in.
    pub fn session_of(&self, conn: u64) -> Option<(String, Vec<String>)> {
        let st = self.state();
        let s = st.sessions.get(&conn)?;
        Some((s.client.clone(), s.rooms.iter().cloned().collect()))
    }

    /// Tells every local session that pushes may have been lost.
    pub fn resync_all(&self) {
        for session in self.state().sessions.values() {
            session.outbox.resync();
        }
    }

    /// Every local session, `(clientId, conn, rooms)`: what a networked hub
    /// re-asserts after its registry was lost.
    pub fn snapshot(&self) -> Vec<(String, u64, Vec<String>)> {
        let st = self.state();
        st.sessions
            .iter()
            .map(|(conn, s)| (s.client.clone(), *conn, s.rooms.iter().cloned().collect()))
            .collect()
    }
}

fn leave(st: &mut State, cid: &str, conn: u64) {
    if let Some(set) = st.rooms.get_mut(cid) {
        set.remove(&conn);
        if set.is_empty() {
            st.rooms.remove(cid);
        }
    }
}

impl Hub for LocalHub {
    fn attach<'a>(
        &'a self,
        client: &'a str,
        session: &'a SessionId,
        outbox: Arc<Outbox>,
        max_sessions: usize,
    ) -> BoxFuture<'a, Result<(), TooManySessions>> {
        Box::pin(ready(self.attach_now(
            client,
            session.conn,
            outbox,
            max_sessions,
        )))
    }

    fn detach<'a>(&'a self, session: &'a SessionId) -> BoxFuture<'a, ()> {
        self.detach_now(session.conn);
        Box::pin(ready(()))
    }

    fn kick<'a>(&'a self, client: &'a str, code: ErrorCode) -> BoxFuture<'a, usize> {
        let st = self.state();
        let conns = st.by_client.get(client).map_or(&[][..], Vec::as_slice);
        for conn in conns {
            if let Some(session) = st.sessions.get(conn) {
                session.outbox.kill(code);
            }
        }
        Box::pin(ready(conns.len()))
    }

    fn claim_device<'a>(&'a self, client: &'a str, device: &'a Device) -> BoxFuture<'a, ()> {
        let key = (client.to_owned(), device.tag.clone());
        self.state().devices.insert(key, device.id.clone());
        Box::pin(ready(()))
    }

    fn device_of<'a>(&'a self, client: &'a str, tag: &'a str) -> BoxFuture<'a, Option<String>> {
        let key = (client.to_owned(), tag.to_owned());
        Box::pin(ready(self.state().devices.get(&key).cloned()))
    }

    fn online<'a>(&'a self, clients: &'a [String]) -> BoxFuture<'a, Vec<bool>> {
        let st = self.state();
        let online = clients
            .iter()
            .map(|c| st.by_client.contains_key(c))
            .collect();
        Box::pin(ready(online))
    }

    fn deliver<'a>(
        &'a self,
        clients: &'a [String],
        except: Option<&'a SessionId>,
        pushes: &'a [Arc<Push>],
    ) -> BoxFuture<'a, ()> {
        self.deliver_now(clients, except, pushes);
        Box::pin(ready(()))
    }

    fn join_room<'a>(
        &'a self,
        cid: &'a str,
        client: &'a str,
        session: &'a SessionId,
    ) -> BoxFuture<'a, ()> {
        self.join_now(cid, client, session.conn);
        Box::pin(ready(()))
    }

    fn leave_room<'a>(&'a self, cid: &'a str, session: &'a SessionId) -> BoxFuture<'a, ()> {
        self.leave_now(cid, session.conn);
        Box::pin(ready(()))
    }

    fn room_count<'a>(&'a self, cid: &'a str) -> BoxFuture<'a, usize> {
        Box::pin(ready(self.count_now(cid)))
    }

    fn room_clients<'a>(&'a self, cid: &'a str, limit: usize) -> BoxFuture<'a, Vec<String>> {
        let mut clients = self.clients_now(cid);
        clients.truncate(limit);
        Box::pin(ready(clients))
    }

    fn deliver_room<'a>(
        &'a self,
        cid: &'a str,
        except: Option<&'a SessionId>,
        pushes: &'a [Arc<Push>],
    ) -> BoxFuture<'a, ()> {
        self.deliver_room_now(cid, except, pushes);
        Box::pin(ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{Event, Push};
    use futures_util::FutureExt;

    fn id(conn: u64) -> SessionId {
        SessionId {
            node: Arc::from("n"),
            conn,
        }
    }

    fn push() -> Arc<Push> {
        Push::new(Event::Receipt {
            cid: "c".into(),
            mid: "m".into(),
            at: 1,
        })
    }

    #[test]
    fn delivery_skips_the_sender_and_a_full_queue_kills() {
        let hub = LocalHub::default();
        let (a1, a2) = (Outbox::new(1), Outbox::new(1));
        hub.attach("a", &id(1), a1.clone(), 8)
            .now_or_never()
            .expect("ready")
            .expect("first");
        hub.attach("a", &id(2), a2.clone(), 8)
            .now_or_never()
            .expect("ready")
            .expect("second");
        let to = ["a".to_owned()];
        hub.deliver_now(&to, Some(&id(1)), &[push()]);
        assert!(a1.is_empty());
        assert!(!a2.is_empty());
        hub.deliver_now(&to, Some(&id(1)), &[push()]);
        assert_eq!(a2.kill_code(), 4117);
        hub.detach_now(1);
        hub.detach_now(2);
        assert_eq!(hub.online(&to).now_or_never(), Some(vec![false]));
    }

    #[test]
    fn session_limit_applies_per_client() {
        let hub = LocalHub::default();
        assert_eq!(hub.attach_now("a", 1, Outbox::new(1), 1), Ok(()));
        assert_eq!(
            hub.attach_now("a", 2, Outbox::new(1), 1),
            Err(TooManySessions)
        );
    }

    #[test]
    fn rooms_count_distinct_clients() {
        let hub = LocalHub::default();
        for (conn, client) in [(1, "a"), (2, "a"), (3, "b")] {
            hub.attach_now(client, conn, Outbox::new(4), 8)
                .expect("attach");
            hub.join_now("r", client, conn);
        }
        assert_eq!(hub.count_now("r"), 2);
        hub.detach_now(3);
        assert_eq!(hub.count_now("r"), 1);
    }
}
