//! Cache-aside reads: cache `get_many` → database for the misses → cache `set_many` with TTL + jitter.
//! A cache failure is logged and the database answers; the cache is never the source of truth.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::AppResult;
use crate::ports::Cache;
use crate::telemetry::metrics;

/// Version of the cached value layout; bump it when a cached type changes shape, so old entries are ignored.
const LAYOUT_VERSION: &str = "v1";

/// How long "no such row" is remembered; short, and every create deletes the key anyway.
const NEGATIVE_TTL: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct CacheAside {
    cache: Arc<dyn Cache>,
    prefix: String,
    ttl: Duration,
}

impl CacheAside {
    pub fn new(cache: Arc<dyn Cache>, prefix: &str, ttl: Duration) -> Self {
        Self {
            cache,
            prefix: prefix.to_owned(),
            ttl,
        }
    }

    pub fn cache(&self) -> &Arc<dyn Cache> {
        &self.cache
    }

    /// `<prefix>:v1:<kind>:<id>`, e.g. `board:v1:user:42`.
    pub fn key(&self, kind: &str, id: impl Display) -> String {
        format!("{}:{LAYOUT_VERSION}:{kind}:{id}", self.prefix)
    }

    /// TTL plus up to 10 % jitter, so entries written together do not expire together.
    fn jittered(&self, base: Duration) -> Duration {
        let extra = rand::rng().random_range(0..=base.as_millis() as u64 / 10);
        base + Duration::from_millis(extra)
    }

    /// The values for `ids`: hits from the cache, misses from `fetch` (called once, with the misses only),
    /// which are then cached. Ids `fetch` does not return are cached as absent for a short while.
    pub async fn load<K, V, F, Fut>(
        &self,
        kind: &str,
        ids: &[K],
        fetch: F,
    ) -> AppResult<HashMap<K, V>>
    where
        K: Copy + Eq + Hash + Display,
        V: Serialize + DeserializeOwned,
        F: FnOnce(Vec<K>) -> Fut,
        Fut: Future<Output = AppResult<Vec<(K, V)>>>,
    {
        let mut found = HashMap::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok(found);
        }
        if self.ttl.is_zero() {
            // Caching switched off (`cache_ttl_secs = 0`): every read goes to the database.
            found.extend(fetch(ids.to_vec()).await?);
            return Ok(found);
        }
        let keys: Vec<String> = ids.iter().map(|id| self.key(kind, id)).collect();
        let mut read_failed = false;
        let cached = match self.cache.get_many(&keys).await {
            Ok(values) => values,
            Err(err) => {
                read_failed = true;
                tracing::warn!(error = %err, cache = self.cache.kind(), "cache read failed; reading the database");
                metrics::cache(kind, "error", keys.len() as u64);
                vec![None; keys.len()]
            }
        };
        let mut misses = Vec::new();
        for (id, value) in ids.iter().zip(cached) {
            match value.map(|v| serde_json::from_str::<Option<V>>(&v)) {
                Some(Ok(Some(v))) => {
                    found.insert(*id, v);
                }
                Some(Ok(None)) => {}
                // A miss, or an entry we cannot read (older layout): read the database.
                None | Some(Err(_)) => misses.push(*id),
            }
        }
        // Hits include remembered absences; an unreadable entry counts as a miss.
        if !read_failed {
            metrics::cache(kind, "hit", (ids.len() - misses.len()) as u64);
            metrics::cache(kind, "miss", misses.len() as u64);
        }
        if misses.is_empty() {
            return Ok(found);
        }
        let rows = fetch(misses.clone()).await?;
        let mut entries = Vec::with_capacity(misses.len());
        for (id, value) in rows {
            if let Ok(json) = serde_json::to_string(&Some(&value)) {
                entries.push((self.key(kind, id), json, self.jittered(self.ttl)));
            }
            found.insert(id, value);
        }
        for id in &misses {
            if !found.contains_key(id) {
                entries.push((self.key(kind, id), "null".to_owned(), NEGATIVE_TTL));
            }
        }
        if read_failed {
            // The cache just failed: don't spend a second timeout on writing to it.
            return Ok(found);
        }
        if let Err(err) = self.cache.set_many(&entries).await {
            tracing::warn!(error = %err, cache = self.cache.kind(), "cache write failed");
            metrics::cache(kind, "error", entries.len() as u64);
        }
        Ok(found)
    }

    /// Deletes keys after a commit. Failures are logged, never reported to the client: the entry expires anyway.
    pub async fn invalidate(&self, keys: &[String]) {
        if keys.is_empty() {
            return;
        }
        if let Err(err) = self.cache.delete(keys).await {
            tracing::warn!(error = %err, cache = self.cache.kind(), ?keys, "cache invalidation failed");
            metrics::cache("invalidation", "error", keys.len() as u64);
        }
    }
}
