//! Redis through fred: a small connection pool, every command bounded by a timeout so that a slow or absent
//! Redis costs a bounded delay, after which the caller reads the database. fred reconnects in the background.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
    /// Circuit breaker: until this instant (ms since `epoch`), commands fail at once instead of waiting
    /// for a timeout each. A slow or absent Redis then costs one timeout per `OPEN_FOR`, not one per read.
    open_until_ms: AtomicU64,
    epoch: Instant,
}

/// How long the breaker stays open after a failure; the next command after it probes Redis again.
const OPEN_FOR: Duration = Duration::from_secs(1);

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
        Ok(Self {
            pool,
            timeout,
            open_until_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        })
    }

    async fn bounded<T>(
        &self,
        future: impl Future<Output = Result<T, FredError>>,
    ) -> Result<T, CacheError> {
        let now = self.epoch.elapsed().as_millis() as u64;
        if now < self.open_until_ms.load(Ordering::Relaxed) {
            return Err(CacheError("redis is failing; skipped for a moment".into()));
        }
        count_cache();
        let result = match tokio::time::timeout(self.timeout, future).await {
            Ok(result) => result.map_err(cache_error),
            Err(_) => Err(CacheError(format!(
                "redis did not answer within {:?}",
                self.timeout
            ))),
        };
        if result.is_err() {
            let reopen = self.epoch.elapsed().as_millis() as u64 + OPEN_FOR.as_millis() as u64;
            self.open_until_ms.store(reopen, Ordering::Relaxed);
        }
        result
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

    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, CacheError> {
        let pipeline = self.pool.next().pipeline();
        let () = pipeline.incr(key).await.map_err(cache_error)?;
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        // NX: the window's expiry is set by its first increment and never pushed back.
        let () = pipeline
            .pexpire(key, millis, Some(fred::types::ExpireOptions::NX))
            .await
            .map_err(cache_error)?;
        let (count, _): (u64, i64) = self.bounded(pipeline.all()).await?;
        Ok(count)
    }

    /// Always asks Redis (the breaker does not apply), and closes the breaker when Redis answers.
    async fn ping(&self) -> Result<(), CacheError> {
        count_cache();
        match tokio::time::timeout(self.timeout, self.pool.next().ping::<String>(None)).await {
            Ok(Ok(_)) => {
                self.open_until_ms.store(0, Ordering::Relaxed);
                Ok(())
            }
            Ok(Err(err)) => Err(cache_error(err)),
            Err(_) => Err(CacheError(format!(
                "redis did not answer within {:?}",
                self.timeout
            ))),
        }
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
