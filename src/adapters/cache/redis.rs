//! Redis through fred: a small connection pool, every command bounded by a timeout so that a slow or absent
//! Redis costs a bounded delay, after which the caller reads the database. fred reconnects in the background.

use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{
    Builder, ClientLike, Config as FredConfig, Error as FredError, Expiration, KeysInterface, Pool,
    ReconnectPolicy,
};

use crate::config::redact_url;
use crate::ports::{Cache, CacheError};
use crate::telemetry::roundtrips::count_cache;

pub struct RedisCache {
    pool: Pool,
    timeout: Duration,
}

fn cache_error(err: FredError) -> CacheError {
    CacheError(err.to_string())
}

impl RedisCache {
    /// Connects to `url`. Fails when Redis cannot be reached at start-up; later outages are survived.
    pub async fn connect(
        url: &str,
        pool_size: usize,
        timeout: Duration,
    ) -> Result<Self, CacheError> {
        let config = FredConfig::from_url(url)
            .map_err(|e| CacheError(format!("bad REDIS_URL {}: {e}", redact_url(url))))?;
        let pool = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(2);
                c.internal_command_timeout = Duration::from_secs(2);
                c.max_command_attempts = 1;
            })
            .with_performance_config(|p| {
                p.default_command_timeout = timeout;
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build_pool(pool_size.max(1))
            .map_err(cache_error)?;
        pool.init().await.map_err(cache_error)?;
        Ok(Self { pool, timeout })
    }

    async fn bounded<T>(
        &self,
        future: impl Future<Output = Result<T, FredError>>,
    ) -> Result<T, CacheError> {
        count_cache();
        match tokio::time::timeout(self.timeout, future).await {
            Ok(result) => result.map_err(cache_error),
            Err(_) => Err(CacheError(format!(
                "redis did not answer within {:?}",
                self.timeout
            ))),
        }
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, CacheError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        if keys.len() == 1 {
            let value: Option<String> = self.bounded(self.pool.get(keys[0])).await?;
            return Ok(vec![value]);
        }
        self.bounded(self.pool.mget(keys)).await
    }

    async fn set_many(&self, entries: &[(String, String, Duration)]) -> Result<(), CacheError> {
        if entries.is_empty() {
            return Ok(());
        }
        let pipeline = self.pool.next().pipeline();
        for (key, value, ttl) in entries {
            let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
            let () = pipeline
                .set(
                    key.as_str(),
                    value.as_str(),
                    Some(Expiration::PX(millis)),
                    None,
                    false,
                )
                .await
                .map_err(cache_error)?;
        }
        let _: Vec<fred::types::Value> = self.bounded(pipeline.all()).await?;
        Ok(())
    }

    async fn delete(&self, keys: &[String]) -> Result<(), CacheError> {
        if keys.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let _: i64 = self.bounded(self.pool.del(keys)).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), CacheError> {
        let _: String = self.bounded(self.pool.next().ping(None)).await?;
        Ok(())
    }

    fn pool_stats(&self) -> (u64, u64, u64) {
        let connected = self
            .pool
            .clients()
            .iter()
            .filter(|c| c.is_connected())
            .count() as u64;
        // fred multiplexes: a connected client is never idle in the pool sense.
        (connected, 0, self.pool.size() as u64)
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}
