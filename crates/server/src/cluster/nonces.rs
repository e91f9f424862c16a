//! The signature nonce replay cache shared by every node: `SET NX` with the
//! signature window as its TTL. While Redis is away, this node's own cache answers.

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use redis::aio::ConnectionManager;

use super::keys;
use crate::auth::{LocalNonces, NonceCache};

pub struct RedisNonces {
    redis: ConnectionManager,
    fallback: LocalNonces,
}

impl RedisNonces {
    pub fn new(redis: ConnectionManager, fallback: LocalNonces) -> RedisNonces {
        RedisNonces { redis, fallback }
    }
}

impl NonceCache for RedisNonces {
    fn first_use(&self, key: String, now: i64, reach: i64) -> BoxFuture<'_, bool> {
        async move {
            let mut conn = self.redis.clone();
            let ttl = u64::try_from(reach.max(1)).unwrap_or(1);
            let set: redis::RedisResult<Option<String>> = redis::cmd("SET")
                .arg(keys::nonce(&key))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ttl)
                .query_async(&mut conn)
                .await;
            match set {
                Ok(first) => first.is_some(),
                Err(e) => {
                    tracing::warn!(error = %e, "Redis: nonces checked on this node only");
                    self.fallback.first_use(key, now, reach).await
                }
            }
        }
        .boxed()
    }
}
