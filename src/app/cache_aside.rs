//! Cache-aside reads: near cache → shared cache `get_for_fill` → database for the misses → `fill_many`,
//! refused for a key a write deleted meanwhile; a cache failure degrades to the database. Layers, fill
//! guards and failures: docs/read-cache.md.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::flights::{self, Boarding, Flights, Landed};
use super::near_cache::NearCache;
use crate::domain::AppResult;
use crate::ports::{Cache, Deletion, FillEntry};
use crate::telemetry::metrics;

/// Concurrent misses of one key: the leader lands each key's encoding as the shared cache stores it.
type InFlight = Flights<String, HashMap<String, String>>;

/// Version of the cached value layout; bump it when a cached type changes shape, so old entries are ignored.
const LAYOUT_VERSION: &str = "v1";

/// How long a read waits for a concurrent read of the same key before reading for itself.
const FOLLOW_AT_MOST: Duration = Duration::from_millis(100);

/// How long "no such row" is remembered; short, and every create deletes the key anyway.
const NEGATIVE_TTL: Duration = Duration::from_secs(30);

/// The near cache of a request that synced, with the generation taken before anything was read.
struct Near<'a> {
    near: &'a NearCache,
    generation: u64,
}

/// Keeps `value` near for `key`, unless a deletion happened since the read began (see `NearCache::keep`).
fn keep_near<V: Clone + Send + Sync + 'static>(
    near: Option<&Near<'_>>,
    key: &str,
    value: Option<&V>,
) {
    if let Some(near) = near {
        near.near.keep(near.generation, key, value.cloned());
    }
}

/// What the shared cache did not answer, with each key's fill guard.
struct Misses<K> {
    ids: Vec<K>,
    guards: HashMap<String, u64>,
    /// The read failed: everything was a miss, and nothing is written back.
    cache_failed: bool,
}

#[derive(Clone)]
pub struct CacheAside {
    cache: Arc<dyn Cache>,
    prefix: String,
    ttl: Duration,
    near: Option<Arc<NearCache>>,
    flights: Arc<InFlight>,
}

impl CacheAside {
    pub fn new(cache: Arc<dyn Cache>, prefix: &str, ttl: Duration) -> Self {
        Self {
            cache,
            prefix: prefix.to_owned(),
            ttl,
            near: None,
            flights: Arc::default(),
        }
    }

    /// The same, with a near cache of decoded values (at most `max_entries`, each kept at most `ttl`) in
    /// front of the shared cache. Needs a Tokio runtime (it follows the shared cache's invalidations).
    pub fn with_near_cache(self, ttl: Duration, max_entries: u64) -> Self {
        if ttl.is_zero() || self.ttl.is_zero() {
            return self;
        }
        let near = NearCache::start(ttl, max_entries, Arc::clone(&self.cache));
        Self {
            near: Some(near),
            ..self
        }
    }

    /// The near cache in front of the shared one, if configured.
    pub fn near(&self) -> Option<Arc<NearCache>> {
        self.near.clone()
    }

    /// Whether values are cached at all (`cache_ttl_secs > 0`).
    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
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

    /// The values for `ids`: hits from the near cache, then from the shared cache, misses from `fetch`
    /// (called once, with the misses only), which are then cached. Ids `fetch` does not return are cached as
    /// absent for a short while.
    pub async fn load<K, V, F, Fut>(
        &self,
        kind: &str,
        ids: &[K],
        fetch: F,
    ) -> AppResult<HashMap<K, V>>
    where
        K: Copy + Eq + Hash + Display,
        V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
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
        // Taken before anything is read: a value read before a deletion is not kept near.
        let generation = self.near.as_ref().map(|near| near.generation());
        let near = match (&self.near, generation) {
            (Some(near), Some(generation)) if near.synced().await => {
                Some(Near { near, generation })
            }
            _ => None,
        };
        let (wanted, keys) = self.read_near(near.as_ref(), kind, ids, &mut found);
        if wanted.is_empty() {
            return Ok(found);
        }
        // Concurrent misses of the same keys share one read (near cache only: its generation and the keys'
        // buckets decide who may join whom).
        let reader = crate::request::current().map(|r| Arc::as_ptr(&r) as usize);
        let boarding = near.as_ref().map(|near| {
            let current = |began, key: &String| near.near.current_since(began, key);
            self.flights
                .board(near.near.generation(), reader, &keys, current)
        });
        let lead = match boarding {
            Some(Boarding::Follow(landed)) => {
                let (wanted, keys) = self.follow(kind, wanted, keys, landed, &mut found).await;
                if !wanted.is_empty() {
                    self.read_through(near.as_ref(), kind, &wanted, keys, fetch, &mut found)
                        .await?;
                }
                return Ok(found);
            }
            Some(Boarding::Lead(lead)) => Some(lead),
            None => None,
        };
        self.read_through(near.as_ref(), kind, &wanted, keys, fetch, &mut found)
            .await?;
        if let Some(lead) = lead {
            let landed = wanted
                .iter()
                .filter_map(|id| {
                    let key = self.key(kind, id);
                    lead.keys().contains(&key).then(|| {
                        let json = serde_json::to_string(&found.get(id)).unwrap_or_default();
                        (key, json)
                    })
                })
                .collect();
            lead.land(Arc::new(landed));
        }
        Ok(found)
    }

    /// Steps 2 to 4 for `wanted` (with their `keys`): the shared cache, then the database for its misses,
    /// filled back.
    async fn read_through<K, V, F, Fut>(
        &self,
        near: Option<&Near<'_>>,
        kind: &str,
        wanted: &[K],
        keys: Vec<String>,
        fetch: F,
        found: &mut HashMap<K, V>,
    ) -> AppResult<()>
    where
        K: Copy + Eq + Hash + Display,
        V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce(Vec<K>) -> Fut,
        Fut: Future<Output = AppResult<Vec<(K, V)>>>,
    {
        let misses = self.read_shared(near, kind, wanted, keys, found).await;
        if misses.ids.is_empty() {
            return Ok(());
        }
        // Round trips made here fill entries that writes delete: see `request::filling`.
        let rows = crate::request::filling(fetch(misses.ids.clone())).await?;
        self.fill(near, kind, misses, rows, found).await;
        Ok(())
    }

    /// Waits for the reads `wanted` joined; answers the ids whose flight ended without landing, with their
    /// keys, for this read to read itself.
    async fn follow<K, V>(
        &self,
        kind: &str,
        wanted: Vec<K>,
        keys: Vec<String>,
        landed: Vec<Landed<HashMap<String, String>>>,
        found: &mut HashMap<K, V>,
    ) -> (Vec<K>, Vec<String>)
    where
        K: Copy + Eq + Hash,
        V: DeserializeOwned,
    {
        let joined = wanted.len();
        let mut left = (Vec::new(), Vec::new());
        for ((id, key), landed) in wanted.into_iter().zip(keys).zip(landed) {
            // Bounded: a leader stuck behind the follower's own request (a cycle through two requests'
            // batches) must not hold it; after the bound it reads for itself.
            let value = tokio::time::timeout(FOLLOW_AT_MOST, flights::wait(landed))
                .await
                .ok()
                .flatten()
                .and_then(|values| values.get(&key).cloned());
            match value.map(|json| serde_json::from_str::<Option<V>>(&json)) {
                Some(Ok(Some(value))) => {
                    found.insert(id, value);
                }
                Some(Ok(None)) => {}
                None | Some(Err(_)) => {
                    left.0.push(id);
                    left.1.push(key);
                }
            }
        }
        metrics::cache(kind, "joined", (joined - left.0.len()) as u64);
        left
    }

    /// Step 1: the near cache's hits into `found`; answers the ids it did not hold, with their keys.
    fn read_near<K, V>(
        &self,
        near: Option<&Near<'_>>,
        kind: &str,
        ids: &[K],
        found: &mut HashMap<K, V>,
    ) -> (Vec<K>, Vec<String>)
    where
        K: Copy + Eq + Hash + Display,
        V: Clone + 'static,
    {
        let mut wanted = Vec::with_capacity(ids.len());
        let mut keys = Vec::with_capacity(ids.len());
        for id in ids {
            let key = self.key(kind, id);
            match near.and_then(|near| near.near.get::<V>(&key)) {
                Some(Some(value)) => {
                    found.insert(*id, value);
                }
                Some(None) => {}
                None => {
                    wanted.push(*id);
                    keys.push(key);
                }
            }
        }
        if near.is_some() {
            metrics::cache(kind, "hit", (ids.len() - wanted.len()) as u64);
            metrics::near_hits(kind, (ids.len() - wanted.len()) as u64);
        }
        (wanted, keys)
    }

    /// Step 2: the shared cache's hits (kept near too) into `found`; answers the misses with their fill
    /// guards. A failing cache answers every id as a miss.
    async fn read_shared<K, V>(
        &self,
        near: Option<&Near<'_>>,
        kind: &str,
        wanted: &[K],
        keys: Vec<String>,
        found: &mut HashMap<K, V>,
    ) -> Misses<K>
    where
        K: Copy + Eq + Hash,
        V: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let (cached, guards, cache_failed) = self.values_and_guards(kind, &keys).await;
        let mut ids = Vec::new();
        for ((id, key), value) in wanted.iter().zip(&keys).zip(cached) {
            match value.map(|v| serde_json::from_str::<Option<V>>(&v)) {
                Some(Ok(Some(v))) => {
                    keep_near(near, key, Some(&v));
                    found.insert(*id, v);
                }
                Some(Ok(None)) => keep_near::<V>(near, key, None),
                // A miss, or an entry we cannot read (older layout): read the database.
                None | Some(Err(_)) => ids.push(*id),
            }
        }
        // Hits include remembered absences; an unreadable entry counts as a miss.
        if !cache_failed {
            metrics::cache(kind, "hit", (wanted.len() - ids.len()) as u64);
            metrics::cache(kind, "miss", ids.len() as u64);
        }
        Misses {
            ids,
            guards: keys.into_iter().zip(guards).collect(),
            cache_failed,
        }
    }

    /// The shared cache's values of `keys` with their fill guards (see `Cache::fill_many`), and whether
    /// the read failed (every key then a miss). A key this request deleted itself is known to be gone: it
    /// is a miss under the guard its deletion left, not asked for (`request::deleted`).
    async fn values_and_guards(
        &self,
        kind: &str,
        keys: &[String],
    ) -> (Vec<Option<String>>, Vec<u64>, bool) {
        let Some(own) = crate::request::take_deleted(keys) else {
            return match self.cache.get_for_fill(keys).await {
                Ok((values, guards)) => (values, guards, false),
                Err(err) => {
                    self.read_failed(kind, keys, &err);
                    (vec![None; keys.len()], vec![0; keys.len()], true)
                }
            };
        };
        let asked: Vec<String> = keys
            .iter()
            .zip(&own)
            .filter(|(_, own)| own.is_none())
            .map(|(key, _)| key.clone())
            .collect();
        let (mut values, mut guards, failed) = if asked.is_empty() {
            (Vec::new().into_iter(), Vec::new().into_iter(), false)
        } else {
            match self.cache.get_for_fill(&asked).await {
                Ok((values, guards)) => (values.into_iter(), guards.into_iter(), false),
                Err(err) => {
                    self.read_failed(kind, keys, &err);
                    (Vec::new().into_iter(), Vec::new().into_iter(), true)
                }
            }
        };
        let (values, guards) = own
            .into_iter()
            .map(|own| match own {
                Some(guard) => (None, guard),
                None => (values.next().flatten(), guards.next().unwrap_or(0)),
            })
            .unzip();
        (values, guards, failed)
    }

    fn read_failed(&self, kind: &str, keys: &[String], err: &crate::ports::CacheError) {
        tracing::warn!(error = %err, cache = self.cache.kind(), "cache read failed; reading the database");
        metrics::cache(kind, "error", keys.len() as u64);
    }

    /// Steps 3 and 4: the database's `rows` for `misses` into `found`, kept near and filled into the shared
    /// cache under their guards; ids without a row are filled as absent.
    async fn fill<K, V>(
        &self,
        near: Option<&Near<'_>>,
        kind: &str,
        misses: Misses<K>,
        rows: Vec<(K, V)>,
        found: &mut HashMap<K, V>,
    ) where
        K: Copy + Eq + Hash + Display,
        V: Serialize + Clone + Send + Sync + 'static,
    {
        let guard_of = |key: &str| misses.guards.get(key).copied().unwrap_or(0);
        // After a failed read, nothing is kept near either: the cache's state is unknown.
        let near = near.filter(|_| !misses.cache_failed);
        let mut entries = Vec::with_capacity(misses.ids.len());
        for (id, value) in rows {
            let key = self.key(kind, id);
            if let Ok(json) = serde_json::to_string(&Some(&value)) {
                let guard = guard_of(&key);
                entries.push(FillEntry::new(
                    key.clone(),
                    json,
                    self.jittered(self.ttl),
                    guard,
                ));
            }
            keep_near(near, &key, Some(&value));
            found.insert(id, value);
        }
        for id in &misses.ids {
            if !found.contains_key(id) {
                let key = self.key(kind, id);
                keep_near::<V>(near, &key, None);
                let guard = guard_of(&key);
                entries.push(FillEntry::new(key, "null".to_owned(), NEGATIVE_TTL, guard));
            }
        }
        if misses.cache_failed {
            // The cache just failed: don't spend a second timeout on writing to it.
            return;
        }
        if let Err(err) = self.cache.fill_many(&entries).await {
            tracing::warn!(error = %err, cache = self.cache.kind(), "cache write failed");
            metrics::cache(kind, "error", entries.len() as u64);
        }
    }

    /// Deletes keys after a commit. Failures are logged, never reported to the client: the entry expires anyway.
    pub async fn invalidate(&self, keys: &[String]) {
        self.invalidate_as(keys, Deletion::All).await;
    }

    /// As [`CacheAside::invalidate`], after a change of values that answers show only in slots (a vote): the
    /// near caches keep their templates (docs/read-cache.md#counters-in-slots).
    pub async fn invalidate_slot_values(&self, keys: &[String]) {
        self.invalidate_as(keys, Deletion::SlotValues).await;
    }

    async fn invalidate_as(&self, keys: &[String], deletion: Deletion) {
        if keys.is_empty() {
            return;
        }
        let deleted = match deletion {
            Deletion::All => self.cache.delete(keys).await,
            Deletion::SlotValues => self.cache.delete_slot_values(keys).await,
        };
        match deleted {
            Ok(guards) => crate::request::deleted(keys, &guards),
            Err(err) => {
                tracing::warn!(error = %err, cache = self.cache.kind(), ?keys, "cache invalidation failed");
                metrics::cache("invalidation", "error", keys.len() as u64);
            }
        }
        if let Some(near) = &self.near {
            // Once the shared entries are gone, and only then: what any read took before this, from the
            // near entries or the shared ones, is retired by it. Until then the write has not answered,
            // and readers may still be served the values of before it. (A process does not apply its own
            // announcements again: this is the forget that covers it.)
            near.forget_as(keys, deletion);
        }
    }
}

#[cfg(test)]
mod tests;
