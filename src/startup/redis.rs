//! Start-up's connection to Redis: the cache, its feed and the events, tried again for a while when Redis
//! refuses (a Redis Cluster whose failed primary is not replaced yet refuses new clients for seconds).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::StartError;
use crate::adapters::cache::RedisCache;
use crate::adapters::events::RedisEvents;
use crate::adapters::redis_feed::RedisFeed;

/// How long start-up keeps trying to reach Redis before it gives up.
const START_WAIT: Duration = Duration::from_secs(30);
/// Between two tries.
const RETRY_EVERY: Duration = Duration::from_secs(1);
const POOL_SIZE: usize = 4;

/// The Redis cache and events of `url`, subscribed (so near caches are live, and round trips
/// deterministic, from the first request). A bad URL fails at once; Redis refusing is tried again every
/// second for [`START_WAIT`].
pub(super) async fn connect(
    url: &str,
    prefix: &str,
    timeout: Duration,
) -> Result<(Arc<RedisCache>, RedisEvents), StartError> {
    let began = Instant::now();
    let mut tries = 0u32;
    loop {
        tries += 1;
        let feed = RedisFeed::new(url).map_err(StartError::Cache)?;
        match try_connect(feed, url, prefix, timeout).await {
            Ok(connected) => {
                if tries > 1 {
                    tracing::info!(tries, "Redis reached");
                }
                return Ok(connected);
            }
            Err(err) if began.elapsed() + RETRY_EVERY < START_WAIT => {
                tracing::warn!(error = %err, tries, "Redis refused; trying again");
                tokio::time::sleep(RETRY_EVERY).await;
            }
            Err(err) => return Err(StartError::Cache(err)),
        }
    }
}

async fn try_connect(
    mut feed: RedisFeed,
    url: &str,
    prefix: &str,
    timeout: Duration,
) -> Result<(Arc<RedisCache>, RedisEvents), String> {
    let redis = Arc::new(
        RedisCache::connect(
            url,
            POOL_SIZE,
            timeout,
            &format!("{prefix}:v1:invalidations"),
            &mut feed,
        )
        .await
        .map_err(|e| e.to_string())?,
    );
    let events = RedisEvents::new(
        redis.pool(),
        &format!("{prefix}:v1:events"),
        timeout,
        &mut feed,
    );
    feed.start().await?;
    // Only once everything is reached: an attempt that failed leaves no replaying task behind.
    redis.replay_deletions();
    Ok((redis, events))
}
