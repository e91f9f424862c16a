//! The Redis hub: this node's sessions in a [`LocalHub`], the cluster's presence in
//! Redis (see [`keys`]), and delivery to the nodes that have recipients online, each
//! through its inbox channel. Redis carries nothing durable: pub/sub may lose a push
//! (a session repairs message gaps from the store), and while Redis is away this
//! node keeps serving its own sessions and re-asserts them when it is back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use leanrt_protocol::ErrorCode;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, RedisResult};
use tokio::task::JoinHandle;

use super::envelope::Envelope;
use super::{keys, presence};
use crate::auth::session_token;
use crate::domain::event::{Event, Push};
use crate::domain::Device;
use crate::hub::{Hub, LocalHub, Outbox, SessionId, TooManySessions};

/// Adds a session unless its clientId has `max` already (atomic across nodes).
const ATTACH: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], 1)
redis.call('SADD', KEYS[2], ARGV[3])
return 1";

/// How long the subscriber waits before reconnecting.
const RESUBSCRIBE: Duration = Duration::from_millis(500);
/// Attempts to re-assert after a resubscription (half a second apart).
const REASSERT_ATTEMPTS: u32 = 20;
/// How long connecting and subscribing may take.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(3);

pub struct RedisHub {
    local: Arc<LocalHub>,
    node: Arc<str>,
    redis: ConnectionManager,
    attach: redis::Script,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for RedisHub {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl RedisHub {
    /// Joins the cluster at `url` as `node`: renews its lease, subscribes to its
    /// inbox, and keeps both going (reconnecting) while it lives.
    pub async fn connect(
        client: redis::Client,
        redis: ConnectionManager,
        node: Arc<str>,
    ) -> RedisResult<RedisHub> {
        let local = Arc::new(LocalHub::default());
        let mut conn = redis.clone();
        presence::renew(&mut conn, &node).await?;
        let (subscribed, ready) = tokio::sync::oneshot::channel();
        let tasks = vec![
            tokio::spawn(heartbeat(redis.clone(), node.clone())),
            tokio::spawn(subscriber(
                client,
                redis.clone(),
                node.clone(),
                local.clone(),
                subscribed,
            )),
        ];
        // Deliveries to this node must not be missed once it serves.
        let _ = tokio::time::timeout(Duration::from_secs(5), ready).await;
        Ok(RedisHub {
            local,
            node,
            redis,
            attach: redis::Script::new(ATTACH),
            tasks,
        })
    }

    fn conn(&self) -> ConnectionManager {
        self.redis.clone()
    }

    /// The live sessions of `clients` on other nodes: node → clientIds.
    async fn remote(&self, clients: &[String]) -> RedisResult<BTreeMap<String, Vec<String>>> {
        let mut conn = self.conn();
        let mut pipe = redis::pipe();
        for client in clients {
            pipe.hkeys(keys::client(client));
        }
        let fields: Vec<Vec<String>> = pipe.query_async(&mut conn).await?;
        let mut by_node: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (client, fields) in clients.iter().zip(&fields) {
            for (node, _) in fields.iter().filter_map(|f| keys::parse_session(f)) {
                if *node != *self.node {
                    by_node
                        .entry(node.to_owned())
                        .or_default()
                        .insert(client.clone());
                }
            }
        }
        let nodes: Vec<&str> = by_node.keys().map(String::as_str).collect();
        let alive = presence::live(&mut conn, &nodes).await?;
        Ok(by_node
            .into_iter()
            .filter(|(node, _)| alive.contains(node))
            .map(|(node, clients)| (node, clients.into_iter().collect()))
            .collect())
    }

    /// The live participants of room `cid`: (node, conn, clientId).
    async fn participants(&self, cid: &str) -> RedisResult<Vec<(String, u64, String)>> {
        let mut conn = self.conn();
        let all: Vec<(String, String)> = conn.hgetall(keys::room(cid)).await?;
        let parsed: Vec<(String, u64, String)> = all
            .iter()
            .filter_map(|(field, client)| {
                keys::parse_session(field).map(|(n, c)| (n.to_owned(), c, client.clone()))
            })
            .collect();
        let nodes: BTreeSet<&str> = parsed.iter().map(|(n, _, _)| n.as_str()).collect();
        let nodes: Vec<&str> = nodes.into_iter().collect();
        let alive = presence::live(&mut conn, &nodes).await?;
        Ok(parsed
            .into_iter()
            .filter(|(n, _, _)| alive.contains(n) || **n == *self.node)
            .collect())
    }

    /// Publishes `envelope` to `node`'s inbox; a failure is logged (pub/sub is at
    /// most once anyway).
    async fn publish(&self, node: &str, envelope: &Envelope<&Event>) {
        let mut conn = self.conn();
        let sent: RedisResult<i64> = conn.publish(keys::inbox(node), envelope.encode()).await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, node, "Redis: a cross-node delivery was lost");
        }
    }

    /// The connection of `session` if it is of `node`.
    fn except_on(except: Option<&SessionId>, node: &str) -> Option<u64> {
        except.filter(|s| *s.node == *node).map(|s| s.conn)
    }

    /// `except` if it names a session of this node.
    fn local_except<'a>(&self, except: Option<&'a SessionId>) -> Option<&'a SessionId> {
        except.filter(|s| s.node == self.node)
    }
}

fn events(pushes: &[Arc<Push>]) -> Vec<&Event> {
    pushes.iter().map(|p| &p.event).collect()
}

/// Renews the lease and reaps dead nodes, every heartbeat.
async fn heartbeat(mut redis: ConnectionManager, node: Arc<str>) {
    let mut tick = tokio::time::interval(presence::HEARTBEAT);
    loop {
        tick.tick().await;
        let beat = async {
            presence::renew(&mut redis, &node).await?;
            presence::reap(&mut redis).await
        };
        if let Err(e) = beat.await {
            tracing::warn!(error = %e, "Redis: heartbeat failed");
        }
    }
}

/// Reads this node's inbox, reconnecting when the subscription ends; every
/// reconnection re-asserts this node's sessions (Redis may have restarted empty).
async fn subscriber(
    client: redis::Client,
    mut redis: ConnectionManager,
    node: Arc<str>,
    local: Arc<LocalHub>,
    subscribed: tokio::sync::oneshot::Sender<()>,
) {
    let mut subscribed = Some(subscribed);
    loop {
        let pubsub = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(keys::inbox(&node)).await?;
            RedisResult::Ok(pubsub)
        };
        let pubsub = tokio::time::timeout(SUBSCRIBE_TIMEOUT, pubsub)
            .await
            .unwrap_or_else(|_| Err((redis::ErrorKind::Io, "timed out").into()));
        match pubsub {
            Ok(pubsub) => {
                match subscribed.take() {
                    Some(first) => drop(first.send(())),
                    None => {
                        reassert(&mut redis, &node, &local).await;
                        // Pushes published while unsubscribed are lost: catch up.
                        local.resync_all();
                    }
                }
                let mut messages = pubsub.into_on_message();
                while let Some(msg) = messages.next().await {
                    match Envelope::decode(msg.get_payload_bytes()) {
                        Some(envelope) => handle(&local, &node, envelope).await,
                        None => tracing::warn!("Redis: an unreadable envelope in the inbox"),
                    }
                }
                tracing::warn!("Redis: the inbox subscription ended; reconnecting");
            }
            Err(e) => tracing::warn!(error = %e, "Redis: cannot subscribe to the inbox"),
        }
        tokio::time::sleep(RESUBSCRIBE).await;
    }
}

/// Re-asserts this node's sessions, trying again while Redis is not back yet (the
/// connection manager reconnects behind the first failures).
async fn reassert(redis: &mut ConnectionManager, node: &str, local: &LocalHub) {
    for attempt in 1..=REASSERT_ATTEMPTS {
        match presence::reassert(redis, node, local).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, attempt, "Redis: re-asserting sessions failed");
                tokio::time::sleep(RESUBSCRIBE).await;
            }
        }
    }
}

async fn handle(local: &LocalHub, node: &Arc<str>, envelope: Envelope<Event>) {
    let session = |conn: u64| SessionId {
        node: node.clone(),
        conn,
    };
    match envelope {
        Envelope::Deliver {
            clients,
            except,
            events,
        } => {
            let pushes: Vec<Arc<Push>> = events.into_iter().map(Push::new).collect();
            let except = except.map(session);
            local.deliver(&clients, except.as_ref(), &pushes).await;
        }
        Envelope::Room {
            cid,
            except,
            events,
        } => {
            let pushes: Vec<Arc<Push>> = events.into_iter().map(Push::in_room).collect();
            let except = except.map(session);
            local.deliver_room(&cid, except.as_ref(), &pushes).await;
        }
        Envelope::Kick { client, code } => {
            let code = ErrorCode::from_code(code).unwrap_or(ErrorCode::KickedByApp);
            local.kick(&client, code).await;
        }
    }
}

impl Hub for RedisHub {
    fn repairs_gaps(&self) -> bool {
        true
    }

    fn attach<'a>(
        &'a self,
        client: &'a str,
        session: &'a SessionId,
        outbox: Arc<Outbox>,
        max_sessions: usize,
    ) -> BoxFuture<'a, Result<(), TooManySessions>> {
        async move {
            let mut conn = self.conn();
            let added: RedisResult<i64> = self
                .attach
                .key(keys::client(client))
                .key(keys::node_sessions(&self.node))
                .arg(keys::session(&self.node, session.conn))
                .arg(max_sessions)
                .arg(keys::member(session.conn, client))
                .invoke_async(&mut conn)
                .await;
            match added {
                Ok(0) => return Err(TooManySessions),
                Ok(_) => {}
                // Redis is away: the local limit still holds; re-asserted later.
                Err(e) => tracing::warn!(error = %e, "Redis: a session is registered locally only"),
            }
            let attached = self
                .local
                .attach(client, session, outbox, max_sessions)
                .await;
            if attached.is_err() {
                self.forget(client, session.conn, &[]).await;
            }
            attached
        }
        .boxed()
    }

    fn detach<'a>(&'a self, session: &'a SessionId) -> BoxFuture<'a, ()> {
        async move {
            let known = self.local.session_of(session.conn);
            self.local.detach(session).await;
            if let Some((client, rooms)) = known {
                self.forget(&client, session.conn, &rooms).await;
            }
        }
        .boxed()
    }

    fn kick<'a>(&'a self, client: &'a str, code: ErrorCode) -> BoxFuture<'a, usize> {
        async move {
            let mut kicked = self.local.kick(client, code).await;
            let mut conn = self.conn();
            let fields: Vec<String> = conn.hkeys(keys::client(client)).await.unwrap_or_default();
            let mut per_node: BTreeMap<&str, usize> = BTreeMap::new();
            for (node, _) in fields.iter().filter_map(|f| keys::parse_session(f)) {
                if *node != *self.node {
                    *per_node.entry(node).or_default() += 1;
                }
            }
            let nodes: Vec<&str> = per_node.keys().copied().collect();
            let alive = presence::live(&mut conn, &nodes).await.unwrap_or_default();
            let kick = Envelope::Kick {
                client: client.to_owned(),
                code: code as u16,
            };
            for (node, n) in per_node.into_iter().filter(|(n, _)| alive.contains(*n)) {
                self.publish(node, &kick).await;
                kicked += n;
            }
            kicked
        }
        .boxed()
    }

    fn claim_device<'a>(&'a self, client: &'a str, device: &'a Device) -> BoxFuture<'a, ()> {
        async move {
            let key = keys::devices(client);
            let claimed: RedisResult<()> = redis::pipe()
                .hset(&key, &device.tag, &device.id)
                .ignore()
                .expire(&key, session_token::TTL_SECS)
                .ignore()
                .query_async(&mut self.conn())
                .await;
            if let Err(e) = claimed {
                tracing::warn!(error = %e, client, "recording a device login failed");
            }
        }
        .boxed()
    }

    fn device_of<'a>(&'a self, client: &'a str, tag: &'a str) -> BoxFuture<'a, Option<String>> {
        async move {
            let held: RedisResult<Option<String>> =
                self.conn().hget(keys::devices(client), tag).await;
            held.unwrap_or_else(|e| {
                tracing::warn!(error = %e, client, "reading a device login failed");
                None
            })
        }
        .boxed()
    }

    fn online<'a>(&'a self, clients: &'a [String]) -> BoxFuture<'a, Vec<bool>> {
        async move {
            let mut online = self.local.online(clients).await;
            let away: Vec<String> = clients
                .iter()
                .zip(&online)
                .filter(|(_, on)| !**on)
                .map(|(c, _)| c.clone())
                .collect();
            if away.is_empty() {
                return online;
            }
            match self.remote(&away).await {
                Ok(remote) => {
                    let elsewhere: BTreeSet<&String> = remote.values().flatten().collect();
                    for (client, on) in clients.iter().zip(online.iter_mut()) {
                        *on |= elsewhere.contains(client);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Redis: presence answered from this node only")
                }
            }
            online
        }
        .boxed()
    }

    fn deliver<'a>(
        &'a self,
        clients: &'a [String],
        except: Option<&'a SessionId>,
        pushes: &'a [Arc<Push>],
    ) -> BoxFuture<'a, ()> {
        async move {
            self.local
                .deliver(clients, self.local_except(except), pushes)
                .await;
            let remote = match self.remote(clients).await {
                Ok(remote) => remote,
                Err(e) => {
                    tracing::warn!(error = %e, "Redis: delivered on this node only");
                    return;
                }
            };
            if remote.is_empty() {
                return;
            }
            for (node, clients) in remote {
                let envelope = Envelope::Deliver {
                    clients,
                    except: Self::except_on(except, &node),
                    events: events(pushes),
                };
                self.publish(&node, &envelope).await;
            }
        }
        .boxed()
    }

    fn join_room<'a>(
        &'a self,
        cid: &'a str,
        client: &'a str,
        session: &'a SessionId,
    ) -> BoxFuture<'a, ()> {
        async move {
            self.local.join_room(cid, client, session).await;
            self.participation(cid, session.conn, Some(client)).await;
        }
        .boxed()
    }

    fn leave_room<'a>(&'a self, cid: &'a str, session: &'a SessionId) -> BoxFuture<'a, ()> {
        async move {
            self.local.leave_room(cid, session).await;
            self.participation(cid, session.conn, None).await;
        }
        .boxed()
    }

    fn room_count<'a>(&'a self, cid: &'a str) -> BoxFuture<'a, usize> {
        async move {
            match self.participants(cid).await {
                Ok(all) => all.iter().map(|(_, _, c)| c).collect::<BTreeSet<_>>().len(),
                Err(_) => self.local.room_count(cid).await,
            }
        }
        .boxed()
    }

    fn room_clients<'a>(&'a self, cid: &'a str, limit: usize) -> BoxFuture<'a, Vec<String>> {
        async move {
            match self.participants(cid).await {
                Ok(all) => {
                    let clients: BTreeSet<String> = all.into_iter().map(|(_, _, c)| c).collect();
                    clients.into_iter().take(limit).collect()
                }
                Err(_) => self.local.room_clients(cid, limit).await,
            }
        }
        .boxed()
    }

    fn deliver_room<'a>(
        &'a self,
        cid: &'a str,
        except: Option<&'a SessionId>,
        pushes: &'a [Arc<Push>],
    ) -> BoxFuture<'a, ()> {
        async move {
            self.local
                .deliver_room(cid, self.local_except(except), pushes)
                .await;
            let nodes: BTreeSet<String> = match self.participants(cid).await {
                Ok(all) => all
                    .into_iter()
                    .map(|(n, _, _)| n)
                    .filter(|n| **n != *self.node)
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "Redis: a room message stayed on this node");
                    return;
                }
            };
            for node in nodes {
                let envelope = Envelope::Room {
                    cid: cid.to_owned(),
                    except: Self::except_on(except, &node),
                    events: events(pushes),
                };
                self.publish(&node, &envelope).await;
            }
        }
        .boxed()
    }
}

impl RedisHub {
    /// Records in Redis that local session `conn` joined room `cid` as `client`, or
    /// (`None`) left it.
    async fn participation(&self, cid: &str, conn_id: u64, client: Option<&str>) {
        let mut conn = self.conn();
        let (field, member) = (
            keys::session(&self.node, conn_id),
            keys::member(conn_id, cid),
        );
        let mut pipe = redis::pipe();
        match client {
            Some(client) => pipe
                .hset(keys::room(cid), field, client)
                .ignore()
                .sadd(keys::node_rooms(&self.node), member)
                .ignore(),
            None => pipe
                .hdel(keys::room(cid), field)
                .ignore()
                .srem(keys::node_rooms(&self.node), member)
                .ignore(),
        };
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            tracing::warn!(error = %e, "Redis: a room participation is recorded locally only");
        }
    }

    /// Removes a session (and its participations) from Redis.
    async fn forget(&self, client: &str, conn_id: u64, rooms: &[String]) {
        let mut conn = self.conn();
        let field = keys::session(&self.node, conn_id);
        let mut pipe = redis::pipe();
        pipe.hdel(keys::client(client), &field)
            .ignore()
            .srem(
                keys::node_sessions(&self.node),
                keys::member(conn_id, client),
            )
            .ignore();
        for cid in rooms {
            pipe.hdel(keys::room(cid), &field)
                .ignore()
                .srem(keys::node_rooms(&self.node), keys::member(conn_id, cid))
                .ignore();
        }
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            tracing::warn!(error = %e, "Redis: a closed session stays registered until reaped");
        }
    }
}
