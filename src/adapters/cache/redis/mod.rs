//! Redis through fred: a small connection pool, every command bounded by a timeout so that a slow or absent
//! Redis costs a bounded delay, after which the caller reads the database. fred reconnects in the background.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{
    Builder, Client, ClientLike, Config as FredConfig, Error as FredError, Expiration,
    KeysInterface, LuaInterface, Pool, PubsubInterface, ReconnectPolicy,
};
use fred::types::scripts::Script;
use tokio::sync::broadcast;

use crate::config::redact_url;
use crate::ports::{Cache, CacheError, Deletion, FillEntry, Invalidation};
use crate::request::count_cache;

use crate::adapters::redis_feed::RedisFeed;

mod announcements;
mod breaker;
mod counters;
mod deletions;
mod primary;
mod unsettled;

use announcements::Announcements;
use breaker::{Breaker, cache_error};
use counters::ADD_READING_SCRIPT;
use primary::{Primary, in_namespace};
use unsettled::Unsettled;

pub struct RedisCache {
    pool: Pool,
    /// Every command's timeout and the breaker.
    breaker: Breaker,
    /// Pub/sub channel on which deletions are announced to every process.
    channel: String,
    /// This process's own channel for [`Cache::mark`], followed by the same connection.
    marks: String,
    /// This process's name in its announcements (see `announcements::text`).
    origin: String,
    invalidations: broadcast::Sender<Invalidation>,
    /// Whether the invalidation channel is followed right now.
    live: Arc<AtomicBool>,
    /// The fill script, called by its SHA (loaded at connect, and again after a Redis restart forgot it).
    fill: Script,
    /// The limiter's add-and-read script, called like the fill script.
    add_reading: Script,
    /// The primary the cached values are read from, and their namespace there.
    primary: Arc<Primary>,
    /// Redis Cluster: multi-key commands are split into single-slot ones.
    clustered: bool,
    /// Deletions to make again once a namespace is verified.
    unsettled: std::sync::Mutex<Unsettled>,
}

/// Announcements buffered per listener; a listener that falls further behind forgets everything.
const INVALIDATION_BACKLOG: usize = 4096;
/// A deletion waits at least this long for Redis, whatever the commands' timeout: a read that gives up
/// costs a database read, a deletion that gives up leaves other processes reading the old value until it
/// is replayed.
const DELETE_TIMEOUT: Duration = Duration::from_secs(2);
/// Between two tries of a deletion: about fred's first reconnection delay.
const DELETE_RETRY_PAUSE: Duration = Duration::from_millis(100);

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
const FILL_SCRIPT: &str = "if (redis.call('GET', KEYS[2]) or '0') == ARGV[3] then \
     redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end return 0";

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
        let clustered = config.server.is_clustered();
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
        let add_reading: String = pool
            .next()
            .script_load(ADD_READING_SCRIPT)
            .await
            .map_err(cache_error)?;
        let primary = Primary::follow(&pool, clustered, Duration::from_secs(2))
            .await
            .map_err(CacheError)?;
        let (invalidations, _) = broadcast::channel(INVALIDATION_BACKLOG);
        let origin = uuid::Uuid::new_v4().simple().to_string();
        // On a cluster, announcements and marks are shard channels of one hash slot: one shard orders
        // them and one connection delivers them (docs/read-cache.md#the-feed).
        let channel = if clustered {
            format!("{{{channel}}}")
        } else {
            channel.to_owned()
        };
        let marks = format!("{channel}:mark:{origin}");
        let announcements = Arc::new(Announcements {
            marks: marks.clone(),
            origin: origin.clone(),
            out: invalidations.clone(),
        });
        let channels = [channel.clone(), marks.clone()];
        if clustered {
            feed.listen_sharded(&channels, announcements);
        } else {
            feed.listen(&channels, announcements);
        }
        Ok(Self {
            pool,
            breaker: Breaker::new(timeout),
            channel,
            marks,
            origin,
            invalidations,
            live: feed.live(),
            fill: Script::from_hash(sha),
            add_reading: Script::from_hash(add_reading),
            primary,
            clustered,
            unsettled: std::sync::Mutex::new(Unsettled::default()),
        })
    }

    /// Whether this is a Redis Cluster (`redis-cluster://`): keys live on several shards, and pub/sub
    /// messages of different nodes reach a subscriber in no particular order.
    pub fn clustered(&self) -> bool {
        self.clustered
    }

    /// The pool, for other publishers on the same Redis (board events).
    pub fn pool(&self) -> Pool {
        self.pool.clone()
    }

    /// One entry's fill script: `key` (in its namespace) unless its guard moved past `guard`.
    async fn fill_one(
        &self,
        client: &Client,
        key: String,
        entry: &FillEntry,
        guard: u64,
    ) -> Result<i64, FredError> {
        let keys = vec![key.clone(), guard_key(&key)];
        let args = vec![
            entry.value.clone(),
            ttl_millis(entry.ttl).to_string(),
            guard.to_string(),
        ];
        Self::eval_script(client, &self.fill, FILL_SCRIPT, keys, args).await
    }

    /// Values of `keys`, then their guards (as one `MGET` would answer them), on Redis Cluster: one
    /// `MGET key {key}:g` per key — one slot each, so each key's value and guard are read at one instant —
    /// all pipelined, each to its slot's node.
    async fn values_and_guards_by_slot(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<String>>, CacheError> {
        let pipeline = self.pool.next().pipeline();
        for key in keys {
            let pair = vec![key.clone(), guard_key(key)];
            let () = pipeline.mget(pair).await.map_err(cache_error)?;
        }
        let pairs: Vec<fred::types::Value> = self.bounded("PIPELINE MGET", pipeline.all()).await?;
        let mut values = Vec::with_capacity(keys.len() * 2);
        let mut guards = Vec::with_capacity(keys.len());
        for pair in pairs {
            let mut pair = match pair {
                fred::types::Value::Array(pair) if pair.len() == 2 => pair.into_iter(),
                _ => return Err(CacheError("unexpected reply to MGET".into())),
            };
            values.push(pair.next().and_then(|v| v.into_string()));
            guards.push(pair.next().and_then(|v| v.into_string()));
        }
        if values.len() != keys.len() {
            return Err(CacheError("unexpected replies to MGET".into()));
        }
        values.extend(guards);
        Ok(values)
    }

    /// The namespace to read in and the epoch of the read, or an error while the primary is not verified
    /// (after a connection event): the caller reads the database.
    fn reading(&self) -> Result<(Arc<str>, u64), CacheError> {
        self.primary.reading().ok_or_else(|| {
            CacheError("the Redis primary is not verified since its connection changed".into())
        })
    }

    /// An error when a connection event came while a read begun at `epoch` was out: its answer may come
    /// from another server than the one verified.
    fn answered_by_primary(&self, epoch: u64) -> Result<(), CacheError> {
        if self.primary.still(epoch) {
            Ok(())
        } else {
            Err(CacheError(
                "the Redis connection changed during the read".into(),
            ))
        }
    }

    /// `script` by `EVALSHA`; on `NOSCRIPT` (a Redis restarted or flushed its scripts, or a Redis Cluster
    /// node never loaded it) by `EVAL` with its text, in the same call. EVAL carries the script itself (and
    /// caches it again on the server), so a flush between a reload and a retry cannot fail the call.
    async fn eval_script<R: fred::types::FromValue>(
        client: &Client,
        script: &Script,
        text: &str,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<R, FredError> {
        match script.evalsha(client, keys.clone(), args.clone()).await {
            Err(err) if err.details().starts_with("NOSCRIPT") => {
                client.eval(text, keys, args).await
            }
            answered => answered,
        }
    }

    /// One round trip of `command` (its span's name), counted, within the timeout, behind the breaker.
    async fn bounded<T>(
        &self,
        command: &'static str,
        future: impl Future<Output = Result<T, FredError>>,
    ) -> Result<T, CacheError> {
        self.breaker.bounded(command, future).await
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, CacheError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let (namespace, epoch) = self.reading()?;
        let keys: Vec<String> = keys.iter().map(|k| in_namespace(k, &namespace)).collect();
        let values = if keys.len() == 1 {
            let value: Option<String> =
                self.bounded("GET", self.pool.get(keys[0].as_str())).await?;
            vec![value]
        } else if self.clustered {
            // Keys of many slots: one GET each, pipelined (fred sends each to its slot's node).
            let pipeline = self.pool.next().pipeline();
            for key in &keys {
                let () = pipeline.get(key.as_str()).await.map_err(cache_error)?;
            }
            let values: Vec<fred::types::Value> =
                self.bounded("PIPELINE GET", pipeline.all()).await?;
            values.into_iter().map(|v| v.into_string()).collect()
        } else {
            self.bounded("MGET", self.pool.mget(keys)).await?
        };
        self.answered_by_primary(epoch)?;
        Ok(values)
    }

    async fn set_many(&self, entries: &[(String, String, Duration)]) -> Result<(), CacheError> {
        if entries.is_empty() {
            return Ok(());
        }
        let (namespace, _) = self.reading()?;
        let pipeline = self.pool.next().pipeline();
        for (key, value, ttl) in entries {
            let millis = ttl_millis(*ttl);
            let () = pipeline
                .set(
                    in_namespace(key, &namespace),
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
        let (namespace, epoch) = self.reading()?;
        let stored: Vec<String> = keys.iter().map(|k| in_namespace(k, &namespace)).collect();
        let mut values = if self.clustered {
            self.values_and_guards_by_slot(&stored).await?
        } else {
            // Values and guards in one MGET: read at one instant.
            let mut all = stored.clone();
            all.extend(stored.iter().map(|k| guard_key(k)));
            let values: Vec<Option<String>> = self.bounded("MGET", self.pool.mget(all)).await?;
            values
        };
        self.answered_by_primary(epoch)?;
        // Each guard carries the epoch it was read in: a fill across a connection event is refused.
        let guards = values
            .split_off(keys.len())
            .into_iter()
            .map(|g| Primary::seal(g.and_then(|g| g.parse().ok()).unwrap_or(0), epoch))
            .collect();
        Ok((values, guards))
    }

    async fn fill_many(&self, entries: &[FillEntry]) -> Result<(), CacheError> {
        if entries.is_empty() {
            return Ok(());
        }
        let (namespace, epoch) = self.reading()?;
        // One script per entry, all sent at once on one connection (fred pipelines them): one round trip,
        // and each script touches one slot only (Redis Cluster). An entry whose guard was read under
        // another epoch (perhaps from another primary) is not filled.
        let client = self.pool.next();
        let fills = entries.iter().filter_map(|entry| {
            let guard = Primary::unseal(entry.guard, epoch)?;
            let key = in_namespace(&entry.key, &namespace);
            Some(self.fill_one(client, key, entry, guard))
        });
        let all = async {
            futures::future::join_all(fills)
                .await
                .into_iter()
                .collect::<Result<Vec<i64>, FredError>>()
        };
        let _: Vec<i64> = self.bounded("EVALSHA", all).await?;
        Ok(())
    }

    async fn delete(&self, keys: &[String]) -> Result<Vec<u64>, CacheError> {
        self.delete_as(keys, Deletion::All).await
    }

    async fn delete_slot_values(&self, keys: &[String]) -> Result<Vec<u64>, CacheError> {
        self.delete_as(keys, Deletion::SlotValues).await
    }

    fn invalidations(&self) -> Option<(bool, broadcast::Receiver<Invalidation>)> {
        // Subscribe first: a change after the flag is read still arrives as an event.
        let feed = self.invalidations.subscribe();
        Some((self.live.load(Ordering::Acquire), feed))
    }

    async fn mark(&self, n: u64) -> Result<(), CacheError> {
        let client = self.pool.next();
        let _: i64 = if self.clustered {
            self.bounded(
                "SPUBLISH",
                client.spublish(self.marks.as_str(), n.to_string()),
            )
            .await?
        } else {
            self.bounded(
                "PUBLISH",
                client.publish(self.marks.as_str(), n.to_string()),
            )
            .await?
        };
        Ok(())
    }

    /// Always asks Redis (the breaker does not apply), and closes the breaker when Redis answers.
    async fn ping(&self) -> Result<(), CacheError> {
        count_cache();
        let timeout = self.breaker.timeout();
        match tokio::time::timeout(timeout, self.pool.next().ping::<String>(None)).await {
            Ok(Ok(_)) => {
                self.breaker.close();
                Ok(())
            }
            Ok(Err(err)) => Err(cache_error(err)),
            Err(_) => Err(CacheError(format!(
                "redis did not answer within {timeout:?}"
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
