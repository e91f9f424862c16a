//! Several leanrt-server nodes: PostgreSQL decides durability and order (the store),
//! Redis carries presence and cross-node delivery ([`RedisHub`]) and the shared nonce
//! cache ([`RedisNonces`]).

mod envelope;
mod hub;
mod keys;
mod nonces;
mod presence;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use hub::RedisHub;
pub use nonces::RedisNonces;

use crate::auth::LocalNonces;

/// Joins the cluster at `url` (`redis://HOST:PORT`) as `node`.
pub async fn join(
    url: &str,
    node: Arc<str>,
    nonces: LocalNonces,
) -> Result<(RedisHub, RedisNonces), String> {
    let client = redis::Client::open(url).map_err(|e| format!("{url}: {e}"))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500));
    let redis = ConnectionManager::new_with_config(client.clone(), config)
        .await
        .map_err(|e| format!("Redis at {url}: {e}"))?;
    let hub = RedisHub::connect(client, redis.clone(), node)
        .await
        .map_err(|e| format!("Redis at {url}: {e}"))?;
    Ok((hub, RedisNonces::new(redis, nonces)))
}
