//! Presence as a routing table with a lease: each node renews `lrt:n:{node}` every
//! [`HEARTBEAT`], for [`LEASE`]. A node whose lease ran out is dead: its sessions
//! and participations are removed by whichever live node reaps first, and until then
//! lookups skip it. After Redis lost its data (a restart) or the node's link to it
//! dropped, the node re-asserts its sessions and rooms.

use std::collections::HashSet;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, RedisResult};

use super::keys;
use crate::hub::LocalHub;

/// How often a node renews its lease (and reaps dead nodes).
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a lease lasts: a killed node's sessions are offline within this, plus at
/// most one heartbeat for the reaper.
pub const LEASE: Duration = Duration::from_secs(6);

/// Renews `node`'s lease.
pub async fn renew(conn: &mut ConnectionManager, node: &str) -> RedisResult<()> {
    redis::pipe()
        .set_options(
            keys::lease(node),
            1,
            redis::SetOptions::default()
                .with_expiration(redis::SetExpiry::PX(LEASE.as_millis() as u64)),
        )
        .ignore()
        .sadd(keys::NODES, node)
        .ignore()
        .query_async(conn)
        .await
}

/// Which of `nodes` hold a lease.
pub async fn live(conn: &mut ConnectionManager, nodes: &[&str]) -> RedisResult<HashSet<String>> {
    if nodes.is_empty() {
        return Ok(HashSet::new());
    }
    let mut pipe = redis::pipe();
    for node in nodes {
        pipe.exists(keys::lease(node));
    }
    let alive: Vec<bool> = pipe.query_async(conn).await?;
    Ok(nodes
        .iter()
        .zip(alive)
        .filter(|(_, alive)| *alive)
        .map(|(node, _)| (*node).to_owned())
        .collect())
}

/// Removes what dead nodes registered; returns how many nodes were reaped.
pub async fn reap(conn: &mut ConnectionManager) -> RedisResult<usize> {
    let nodes: Vec<String> = conn.smembers(keys::NODES).await?;
    let names: Vec<&str> = nodes.iter().map(String::as_str).collect();
    let alive = live(conn, &names).await?;
    let mut reaped = 0;
    for dead in nodes.iter().filter(|n| !alive.contains(*n)) {
        let sessions: Vec<String> = conn.smembers(keys::node_sessions(dead)).await?;
        let rooms: Vec<String> = conn.smembers(keys::node_rooms(dead)).await?;
        let mut pipe = redis::pipe();
        for (conn_id, client) in sessions.iter().filter_map(|m| keys::parse_member(m)) {
            pipe.hdel(keys::client(client), keys::session(dead, conn_id))
                .ignore();
        }
        for (conn_id, cid) in rooms.iter().filter_map(|m| keys::parse_member(m)) {
            pipe.hdel(keys::room(cid), keys::session(dead, conn_id))
                .ignore();
        }
        pipe.del(keys::node_sessions(dead))
            .ignore()
            .del(keys::node_rooms(dead))
            .ignore()
            .srem(keys::NODES, dead)
            .ignore();
        pipe.query_async::<()>(conn).await?;
        tracing::info!(node = %dead, sessions = sessions.len(), "reaped a node whose lease ran out");
        reaped += 1;
    }
    Ok(reaped)
}

/// Registers every local session and participation again.
pub async fn reassert(
    conn: &mut ConnectionManager,
    node: &str,
    local: &LocalHub,
) -> RedisResult<()> {
    let sessions = local.snapshot();
    for chunk in sessions.chunks(512) {
        let mut pipe = redis::pipe();
        for (client, conn_id, rooms) in chunk {
            pipe.hset(keys::client(client), keys::session(node, *conn_id), 1)
                .ignore()
                .sadd(keys::node_sessions(node), keys::member(*conn_id, client))
                .ignore();
            for cid in rooms {
                pipe.hset(keys::room(cid), keys::session(node, *conn_id), client)
                    .ignore()
                    .sadd(keys::node_rooms(node), keys::member(*conn_id, cid))
                    .ignore();
            }
        }
        pipe.query_async::<()>(conn).await?;
    }
    renew(conn, node).await?;
    tracing::info!(
        sessions = sessions.len(),
        "re-asserted this node's sessions in Redis"
    );
    Ok(())
}
