//! The limiter's counters in Redis (`Counters`): single-key commands and scripts whose keys share one hash
//! slot, so they work on Redis Cluster too. The protocol: docs/limiter.md.

use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{Error as FredError, KeysInterface, LuaInterface};

use super::{RedisCache, cache_error, ttl_millis};
use crate::ports::{CacheError, CounterWindows, Counters};

/// Adds ARGV[1] to KEYS[1] unless that would pass ARGV[2]; a new counter expires after ARGV[3] ms (NX: never
/// pushed back). Answers {added (0/1), the count after}.
const ADD_WITHIN_SCRIPT: &str = "local count = tonumber(redis.call('GET', KEYS[1]) or '0') \
    if count + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return {0, count} end \
    count = redis.call('INCRBY', KEYS[1], ARGV[1]) \
    redis.call('PEXPIRE', KEYS[1], ARGV[3], 'NX') \
    return {1, count}";

/// Adds 1 to KEYS[1] (a new counter expires after ARGV[1] ms, NX: never pushed back) and reads KEYS[2]:
/// {the count after, KEYS[2]'s count}. Both keys share a hash tag (one Redis Cluster slot).
pub(super) const ADD_READING_SCRIPT: &str = "local count = redis.call('INCR', KEYS[1]) \
    redis.call('PEXPIRE', KEYS[1], ARGV[1], 'NX') \
    return {count, tonumber(redis.call('GET', KEYS[2]) or '0')}";

/// Takes 1 from KEYS[1] if it is above 0: a take-back never makes a count negative (which would hand out
/// attempts) nor creates a counter (which would never expire), and removes one it brings to 0 (a missing
/// counter counts 0; refused attempts, taken back at once, then leave no key behind for a flood to pile up).
/// Answers the count after.
const TAKE_BACK_SCRIPT: &str = "local count = tonumber(redis.call('GET', KEYS[1]) or '0') \
    if count > 1 then return redis.call('DECR', KEYS[1]) end \
    if count == 1 then redis.call('DEL', KEYS[1]) return 0 end \
    return count";

#[async_trait]
impl Counters for RedisCache {
    async fn add_reading(
        &self,
        windows: &[CounterWindows],
        ttl: Duration,
    ) -> Result<Vec<(u64, u64)>, CacheError> {
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        // One script per subject (its two windows share a slot), all sent at once on one connection: one
        // round trip, and on Redis Cluster each goes to the node of its slot.
        let client = self.pool.next();
        let millis = ttl_millis(ttl).to_string();
        let scripts = windows.iter().map(|w| {
            Self::eval_script::<Vec<i64>>(
                client,
                &self.add_reading,
                ADD_READING_SCRIPT,
                vec![w.current.clone(), w.previous.clone()],
                vec![millis.clone()],
            )
        });
        let all = async {
            futures::future::join_all(scripts)
                .await
                .into_iter()
                .collect::<Result<Vec<Vec<i64>>, FredError>>()
        };
        let replies = self.bounded("EVALSHA", all).await?;
        replies
            .iter()
            .map(|reply| match reply.as_slice() {
                [count, previous] => Ok((
                    u64::try_from(*count).unwrap_or(0),
                    u64::try_from(*previous).unwrap_or(0),
                )),
                _ => Err(CacheError(
                    "unexpected reply to the add-reading script".into(),
                )),
            })
            .collect()
    }

    async fn read(&self, keys: &[String]) -> Result<Vec<u64>, CacheError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // One GET per counter, pipelined: one round trip, and no multi-key command (Redis Cluster).
        let pipeline = self.pool.next().pipeline();
        for key in keys {
            let () = pipeline.get(key.as_str()).await.map_err(cache_error)?;
        }
        let values: Vec<Option<String>> = self.bounded("PIPELINE GET", pipeline.all()).await?;
        Ok(values
            .into_iter()
            .map(|v| v.and_then(|v| v.parse().ok()).unwrap_or(0))
            .collect())
    }

    async fn take_back(&self, keys: &[String]) -> Result<(), CacheError> {
        if keys.is_empty() {
            return Ok(());
        }
        // One script per counter (one key each: Redis Cluster), all sent at once: one round trip.
        let client = self.pool.next();
        let scripts = keys.iter().map(|key| {
            client.eval::<i64, _, _, _>(TAKE_BACK_SCRIPT, vec![key.clone()], Vec::<String>::new())
        });
        let all = async {
            futures::future::join_all(scripts)
                .await
                .into_iter()
                .collect::<Result<Vec<i64>, FredError>>()
        };
        self.bounded("EVAL", all).await?;
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

    fn server_changes(&self) -> u64 {
        self.primary.events()
    }
}
