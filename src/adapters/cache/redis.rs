//! Redis through fred: a small connection pool, every command bounded by a timeout so that a slow or absent
//! Redis costs a bounded delay, after which the caller reads the database. fred reconnects in the background.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use fred::prelude::{
    Builder, Client, ClientLike, Config as FredConfig, Error as FredError, Expiration,
    KeysInterface, LuaInterface, Pool, PubsubInterface, ReconnectPolicy,
};
use fred::types::scripts::Script;
use tokio::sync::broadcast;

use crate::config::redact_url;
use crate::ports::{Cache, CacheError, Counters, FillEntry, Invalidation};
use crate::request::{count_cache, count_redis};

use crate::adapters::redis_feed::{Listener, RedisFeed};

pub struct RedisCache {
    pool: Pool,
    timeout: Duration,
    /// Pub/sub channel on which deletions are announced to every process.
    channel: String,
    /// This process's own channel for [`Cache::mark`], followed by the same connection.
    marks: String,
    invalidations: broadcast::Sender<Invalidation>,
    /// Whether the invalidation channel is followed right now.
    live: Arc<AtomicBool>,
    /// Circuit breaker: until this instant (ms since `epoch`), commands fail at once instead of waiting
    /// for a timeout each. A slow or absent Redis then costs one timeout per `OPEN_FOR`, not one per read.
    open_until_ms: AtomicU64,
    epoch: Instant,
    /// The fill script, called by its SHA (loaded at connect, and again after a Redis restart forgot it).
    fill: Script,
}

/// Announcements buffered per listener; a listener that falls further behind forgets everything.
const INVALIDATION_BACKLOG: usize = 4096;

/// The feed's listener for deletions and this process's marks, turned into [`Invalidation`]s.
struct Announcements {
    marks: String,
    out: broadcast::Sender<Invalidation>,
}

impl Listener for Announcements {
    fn message(&self, channel: &str, text: &str) {
        let invalidation = if channel == self.marks {
            match text.parse() {
                Ok(n) => Invalidation::Marked(n),
                Err(_) => return,
            }
        } else {
            Invalidation::Keys(text.split('\n').map(str::to_owned).collect())
        };
        let _ = self.out.send(invalidation);
    }

    fn lost(&self) {
        let _ = self.out.send(Invalidation::Lost);
    }

    fn live(&self) {
        let _ = self.out.send(Invalidation::Live);
    }
}

/// A key's fill guard: how many times it was deleted. Its hash tag is the key itself, so on Redis Cluster it
/// lives in the key's slot (a key without braces hashes whole) and the fill script may touch both.
fn guard_key(key: &str) -> String {
    format!("{{{key}}}:g")
}

/// A time to live in whole milliseconds, at least 1 (Redis refuses `PX 0`).
fn ttl_millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// How long a fill guard outlives the key's last deletion: far longer than any read runs.
const GUARD_TTL_MS: i64 = 3_600_000;

/// Stores KEYS[1] = ARGV[1] for ARGV[2] ms, unless its guard KEYS[2] moved past ARGV[3].
/// Adds ARGV[1] to KEYS[1] unless that would pass ARGV[2]; a new counter expires after ARGV[3] ms (NX: never
/// pushed back). Answers {added (0/1), the count after}.
const ADD_WITHIN_SCRIPT: &str = "local count = tonumber(redis.call('GET', KEYS[1]) or '0') \
    if count + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return {0, count} end \
    count = redis.call('INCRBY', KEYS[1], ARGV[1]) \
    redis.call('PEXPIRE', KEYS[1], ARGV[3], 'NX') \
    return {1, count}";

const FILL_SCRIPT: &str = "if (redis.call('GET', KEYS[2]) or '0') == ARGV[3] then \
     redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end return 0";

/// How long the breaker stays open after a failure; the next command after it probes Redis again.
const OPEN_FOR: Duration = Duration::from_secs(1);

fn cache_error(err: FredError) -> CacheError {
    CacheError(err.to_string())
}

impl RedisCache {
    /// Connects to `url`. Fails when Redis cannot be reached at start-up; later outages are survived.
    /// Deletions are announced on the pub/sub `channel`, which `feed` follows, together with a channel of
    /// this process's own for [`Cache::mark`] (one connection keeps both in order).
    pub async fn connect(
        url: &str,
        pool_size: usize,
        timeout: Duration,
        channel: &str,
        feed: &mut RedisFeed,
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
        let sha: String = pool
            .next()
            .script_load(FILL_SCRIPT)
            .await
            .map_err(cache_error)?;
        let (invalidations, _) = broadcast::channel(INVALIDATION_BACKLOG);
        let marks = format!("{channel}:mark:{}", uuid::Uuid::new_v4().simple());
        feed.listen(
            &[channel.to_owned(), marks.clone()],
            Arc::new(Announcements {
                marks: marks.clone(),
                out: invalidations.clone(),
            }),
        );
        Ok(Self {
            pool,
            timeout,
            channel: channel.to_owned(),
            marks,
            invalidations,
            live: feed.live(),
            open_until_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            fill: Script::from_hash(sha),
        })
    }

    /// The pool, for other publishers on the same Redis (board events).
    pub fn pool(&self) -> Pool {
        self.pool.clone()
    }

    /// One entry's fill script by `EVALSHA`; on `NOSCRIPT` (Redis restarted or flushed its scripts) by
    /// `EVAL` with the script's text, in the same call.
    async fn fill_one(&self, client: &Client, entry: &FillEntry) -> Result<i64, FredError> {
        let keys = || vec![entry.key.clone(), guard_key(&entry.key)];
        let args = || {
            vec![
                entry.value.clone(),
                ttl_millis(entry.ttl).to_string(),
                entry.guard.to_string(),
            ]
        };
        match self.fill.evalsha(client, keys(), args()).await {
            // EVAL carries the script itself (and caches it again on the server), so a flush between a
            // reload and a retry cannot fail the fill.
            Err(err) if err.details().starts_with("NOSCRIPT") => {
                client.eval(FILL_SCRIPT, keys(), args()).await
            }
            filled => filled,
        }
    }

    /// One round trip of `command` (its span's name), counted, within the timeout, behind the breaker.
    async fn bounded<T>(
        &self,
        command: &'static str,
        future: impl Future<Output = Result<T, FredError>>,
    ) -> Result<T, CacheError> {
        let now = self.epoch.elapsed().as_millis() as u64;
        if now < self.open_until_ms.load(Ordering::Relaxed) {
            return Err(CacheError("redis is failing; skipped for a moment".into()));
        }
        let trip = count_redis();
        let result = match tokio::time::timeout(self.timeout, future).await {
            Ok(result) => result.map_err(cache_error),
            Err(_) => Err(CacheError(format!(
                "redis did not answer within {:?}",
                self.timeout
            ))),
        };
        trip.end(command, result.is_err());
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
            let value: Option<String> = self.bounded("GET", self.pool.get(keys[0])).await?;
            return Ok(vec![value]);
        }
        self.bounded("MGET", self.pool.mget(keys)).await
    }

    async fn set_many(&self, entries: &[(String, String, Duration)]) -> Result<(), CacheError> {
        if entries.is_empty() {
            return Ok(());
        }
        let pipeline = self.pool.next().pipeline();
        for (key, value, ttl) in entries {
            let millis = ttl_millis(*ttl);
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
        let _: Vec<fred::types::Value> = self.bounded("PIPELINE SET", pipeline.all()).await?;
        Ok(())
    }

    async fn get_for_fill(
        &self,
        keys: &[String],
    ) -> Result<(Vec<Option<String>>, Vec<u64>), CacheError> {
        if keys.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        // Values and guards in one MGET: read at one instant.
        let mut all: Vec<String> = keys.to_vec();
        all.extend(keys.iter().map(|k| guard_key(k)));
        let mut values: Vec<Option<String>> = self.bounded("MGET", self.pool.mget(all)).await?;
        let guards = values
            .split_off(keys.len())
            .into_iter()
            .map(|g| g.and_then(|g| g.parse().ok()).unwrap_or(0))
            .collect();
        Ok((values, guards))
    }

    async fn fill_many(&self, entries: &[FillEntry]) -> Result<(), CacheError> {
        if entries.is_empty() {
            return Ok(());
        }
        // One script per entry, all sent at once on one connection (fred pipelines them): one round trip,
        // and each script touches one slot only (Redis Cluster).
        let client = self.pool.next();
        let fills = entries.iter().map(|entry| self.fill_one(client, entry));
        let all = async {
            futures::future::join_all(fills)
                .await
                .into_iter()
                .collect::<Result<Vec<i64>, FredError>>()
        };
        let _: Vec<i64> = self.bounded("EVALSHA", all).await?;
        Ok(())
    }

    async fn delete(&self, keys: &[String]) -> Result<(), CacheError> {
        if keys.is_empty() {
            return Ok(());
        }
        let pipeline = self.pool.next().pipeline();
        // Guards first: a fill that read the old guard is refused from here on; one that ran before is
        // undone by the DEL.
        for key in keys {
            let guard = guard_key(key);
            let () = pipeline.incr(guard.as_str()).await.map_err(cache_error)?;
            let () = pipeline
                .pexpire(guard.as_str(), GUARD_TTL_MS, None)
                .await
                .map_err(cache_error)?;
        }
        let list: Vec<&str> = keys.iter().map(String::as_str).collect();
        let () = pipeline.del(list).await.map_err(cache_error)?;
        let () = pipeline
            .publish(self.channel.as_str(), keys.join("\n"))
            .await
            .map_err(cache_error)?;
        let _: Vec<fred::types::Value> = self
            .bounded("PIPELINE INCR PEXPIRE DEL PUBLISH", pipeline.all())
            .await?;
        Ok(())
    }

    fn invalidations(&self) -> Option<(bool, broadcast::Receiver<Invalidation>)> {
        // Subscribe first: a change after the flag is read still arrives as an event.
        let feed = self.invalidations.subscribe();
        Some((self.live.load(Ordering::Acquire), feed))
    }

    async fn mark(&self, n: u64) -> Result<(), CacheError> {
        let _: i64 = self
            .bounded(
                "PUBLISH",
                self.pool.next().publish(self.marks.as_str(), n.to_string()),
            )
            .await?;
        Ok(())
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

#[async_trait]
impl Counters for RedisCache {
    async fn add(&self, keys: &[String], ttl: Duration) -> Result<Vec<u64>, CacheError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let pipeline = self.pool.next().pipeline();
        let millis = ttl_millis(ttl);
        for key in keys {
            let () = pipeline.incr(key.as_str()).await.map_err(cache_error)?;
            // NX: the window's expiry is set by its first addition and never pushed back.
            let () = pipeline
                .pexpire(key.as_str(), millis, Some(fred::types::ExpireOptions::NX))
                .await
                .map_err(cache_error)?;
        }
        let replies: Vec<fred::types::Value> = self
            .bounded("PIPELINE INCR PEXPIRE", pipeline.all())
            .await?;
        Ok(replies
            .iter()
            .step_by(2)
            .map(|v| v.as_u64().unwrap_or(0))
            .collect())
    }

    async fn read(&self, keys: &[String]) -> Result<Vec<u64>, CacheError> {
        let values = self.get_many(keys).await?;
        Ok(values
            .into_iter()
            .map(|v| v.and_then(|v| v.parse().ok()).unwrap_or(0))
            .collect())
    }

    async fn take_back(&self, keys: &[String]) -> Result<(), CacheError> {
        if keys.is_empty() {
            return Ok(());
        }
        let pipeline = self.pool.next().pipeline();
        for key in keys {
            let () = pipeline.decr(key.as_str()).await.map_err(cache_error)?;
        }
        let _: Vec<fred::types::Value> = self.bounded("PIPELINE DECR", pipeline.all()).await?;
        Ok(())
    }

    async fn add_within(
        &self,
        key: &str,
        amount: u64,
        limit: u64,
        ttl: Duration,
    ) -> Result<(bool, u64), CacheError> {
        let client = self.pool.next();
        let args = vec![
            amount.to_string(),
            limit.to_string(),
            ttl_millis(ttl).to_string(),
        ];
        let reply: Vec<i64> = self
            .bounded(
                "EVAL",
                client.eval(ADD_WITHIN_SCRIPT, vec![key.to_owned()], args),
            )
            .await?;
        match reply.as_slice() {
            [added, count] => Ok((*added == 1, u64::try_from(*count).unwrap_or(0))),
            _ => Err(CacheError(
                "unexpected reply to the add-within script".into(),
            )),
        }
    }
}
