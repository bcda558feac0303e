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
use crate::ports::{Cache, FillEntry};
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
        // Concurrent misses of the same keys share one read (near cache only: its generation decides who
        // may join whom).
        let reader = crate::request::current().map(|r| Arc::as_ptr(&r) as usize);
        let boarding = near
            .as_ref()
            .map(|near| self.flights.board(near.near.generation(), reader, &keys));
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
        let mut cache_failed = false;
        // Each key's fill guard comes with its value: a miss filled below is only stored if no write deleted
        // the key in between (see `Cache::fill_many`).
        let (cached, guards) = match self.cache.get_for_fill(&keys).await {
            Ok(read) => read,
            Err(err) => {
                cache_failed = true;
                tracing::warn!(error = %err, cache = self.cache.kind(), "cache read failed; reading the database");
                metrics::cache(kind, "error", keys.len() as u64);
                (vec![None; keys.len()], vec![0; keys.len()])
            }
        };
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
        if keys.is_empty() {
            return;
        }
        if let Some(near) = &self.near {
            near.forget(keys);
        }
        if let Err(err) = self.cache.delete(keys).await {
            tracing::warn!(error = %err, cache = self.cache.kind(), ?keys, "cache invalidation failed");
            metrics::cache("invalidation", "error", keys.len() as u64);
        }
        if let Some(near) = &self.near {
            // Again once the shared entries are gone: a read between the first forget and the deletion
            // found the old shared value and may have kept it near under the generation of then. (With
            // Redis, this process's own announcement does the same; the in-process cache has none.)
            near.forget(keys);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::adapters::cache::MemoryCache;
    use crate::adapters::cache::fakes::{FailingCache, GatedCache};
    use crate::request::RequestState;

    const TTL: Duration = Duration::from_secs(60);

    type Rows = std::future::Ready<AppResult<Vec<(u32, u64)>>>;

    /// A fetch from a pretend database holding ids 1 and 2 (as their doubles), recording what was asked.
    fn database(asked: &Mutex<Vec<Vec<u32>>>) -> impl FnOnce(Vec<u32>) -> Rows + '_ {
        move |ids: Vec<u32>| {
            asked.lock().unwrap().push(ids.clone());
            let rows = ids
                .into_iter()
                .filter(|id| *id <= 2)
                .map(|id| (id, u64::from(id) * 2))
                .collect();
            std::future::ready(Ok(rows))
        }
    }

    fn sorted(found: HashMap<u32, u64>) -> Vec<(u32, u64)> {
        let mut found: Vec<_> = found.into_iter().collect();
        found.sort_unstable();
        found
    }

    #[tokio::test]
    async fn misses_are_fetched_once_then_filled_absences_included() {
        let cache = Arc::new(MemoryCache::new(100, 1 << 20));
        let aside = CacheAside::new(cache.clone(), "t", TTL);
        let asked = Mutex::new(Vec::new());
        let found = aside.load("n", &[1, 2, 3], database(&asked)).await.unwrap();
        assert_eq!(sorted(found), vec![(1, 2), (2, 4)]);
        assert_eq!(
            *asked.lock().unwrap(),
            vec![vec![1, 2, 3]],
            "one fetch, misses only"
        );
        let stored = cache
            .get_many(&[aside.key("n", 1), aside.key("n", 3)])
            .await
            .unwrap();
        assert_eq!(
            stored,
            vec![Some("2".into()), Some("null".into())],
            "3 is remembered absent"
        );
        // Warm: every id is answered by the cache, absent ones included; nothing is fetched.
        let trips = RequestState::begin();
        let found = trips
            .run(aside.load("n", &[1, 2, 3], database(&asked)))
            .await
            .unwrap();
        assert_eq!(sorted(found), vec![(1, 2), (2, 4)]);
        assert_eq!(asked.lock().unwrap().len(), 1);
        assert_eq!(trips.cache(), 1, "one cache round trip, no fill");
    }

    #[tokio::test]
    async fn a_deletion_during_the_fetch_prevents_a_stale_fill() {
        let cache = Arc::new(MemoryCache::new(100, 1 << 20));
        let aside = CacheAside::new(cache.clone(), "t", TTL);
        let key = aside.key("n", 1);
        // A write commits and deletes the key while the read is at the database.
        let found = aside
            .load("n", &[1_u32], |ids| async {
                aside.invalidate(std::slice::from_ref(&key)).await;
                Ok(ids.into_iter().map(|id| (id, 0_u64)).collect())
            })
            .await
            .unwrap();
        assert_eq!(
            sorted(found),
            vec![(1, 0)],
            "the reader still gets what it read"
        );
        assert_eq!(
            cache.get_many(std::slice::from_ref(&key)).await.unwrap(),
            vec![None],
            "not filled"
        );
        // The next read fetches the new value and fills it.
        let asked = Mutex::new(Vec::new());
        aside.load("n", &[1], database(&asked)).await.unwrap();
        assert_eq!(asked.lock().unwrap().len(), 1);
        assert_eq!(
            cache.get_many(&[key]).await.unwrap(),
            vec![Some("2".into())]
        );
    }

    #[tokio::test]
    async fn a_failing_cache_degrades_to_the_database() {
        let aside = CacheAside::new(Arc::new(FailingCache), "t", TTL);
        let asked = Mutex::new(Vec::new());
        let trips = RequestState::begin();
        let found = trips
            .run(aside.load("n", &[1, 2, 3], database(&asked)))
            .await
            .unwrap();
        assert_eq!(sorted(found), vec![(1, 2), (2, 4)]);
        assert_eq!(*asked.lock().unwrap(), vec![vec![1, 2, 3]]);
        // Deleting after a commit fails quietly too.
        aside.invalidate(&[aside.key("n", 1)]).await;
    }

    #[tokio::test]
    async fn near_hits_cost_no_round_trip_and_a_deletion_reaches_them() {
        let cache = Arc::new(MemoryCache::new(100, 1 << 20));
        let aside = CacheAside::new(cache.clone(), "t", TTL).with_near_cache(TTL, 100);
        let asked = Mutex::new(Vec::new());
        aside.load("n", &[1, 3], database(&asked)).await.unwrap();
        let trips = RequestState::begin();
        let found = trips
            .run(aside.load("n", &[1, 3], database(&asked)))
            .await
            .unwrap();
        assert_eq!(sorted(found), vec![(1, 2)]);
        assert_eq!(
            (trips.cache(), asked.lock().unwrap().len()),
            (0, 1),
            "both from the near cache"
        );
        aside.invalidate(&[aside.key("n", 1)]).await;
        aside.load("n", &[1, 3], database(&asked)).await.unwrap();
        assert_eq!(
            *asked.lock().unwrap(),
            vec![vec![1, 3], vec![1]],
            "only the deleted one is fetched again"
        );
    }

    #[tokio::test]
    async fn a_read_while_the_shared_deletion_runs_is_not_kept_near_after_it() {
        let shared = GatedCache::new();
        let aside = CacheAside::new(shared.clone(), "t", TTL).with_near_cache(TTL, 100);
        let old =
            |ids: Vec<u32>| std::future::ready(Ok(ids.into_iter().map(|id| (id, 1_u64)).collect()));
        let new =
            |ids: Vec<u32>| std::future::ready(Ok(ids.into_iter().map(|id| (id, 2_u64)).collect()));
        aside.load("n", &[1], old).await.unwrap();
        // A write commits and invalidates; its shared deletion is held back.
        shared.hold();
        let writer = {
            let aside = aside.clone();
            tokio::spawn(async move { aside.invalidate(&[aside.key("n", 1)]).await })
        };
        shared.held().await;
        // A reader in between: the near entry is gone, the shared one is still the old value.
        let between = aside.load("n", &[1], old).await.unwrap();
        assert_eq!(between[&1], 1);
        shared.release();
        writer.await.unwrap();
        // After the write answered, the old value is nowhere.
        let after = aside.load("n", &[1], new).await.unwrap();
        assert_eq!(
            after[&1], 2,
            "a read after the invalidation saw the old value"
        );
    }

    type Pending = std::pin::Pin<Box<dyn Future<Output = AppResult<Vec<(u32, u64)>>> + Send>>;

    /// A fetch that answers `value` for every id once `open` is notified, counting its calls.
    fn held(
        open: Arc<tokio::sync::Notify>,
        calls: Arc<std::sync::atomic::AtomicUsize>,
        value: u64,
    ) -> impl FnOnce(Vec<u32>) -> Pending {
        move |ids| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move {
                open.notified().await;
                Ok(ids.into_iter().map(|id| (id, value)).collect())
            })
        }
    }

    #[tokio::test]
    async fn concurrent_misses_of_one_key_share_one_fetch() {
        let cache = Arc::new(MemoryCache::new(100, 1 << 20));
        let aside = CacheAside::new(cache, "t", TTL).with_near_cache(TTL, 100);
        let (open, calls) = (Arc::new(tokio::sync::Notify::new()), Arc::default());
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (aside, fetch) = (aside.clone(), held(open.clone(), Arc::clone(&calls), 5));
                tokio::spawn(async move { aside.load("n", &[1_u32], fetch).await })
            })
            .collect();
        // Every reader is now at the database or waiting for one that is.
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        open.notify_waiters();
        for reader in readers {
            assert_eq!(reader.await.unwrap().unwrap()[&1], 5);
        }
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "one fetch for four readers"
        );
    }

    #[tokio::test]
    async fn a_read_after_a_deletion_does_not_wait_for_a_fetch_from_before_it() {
        let cache = Arc::new(MemoryCache::new(100, 1 << 20));
        let aside = CacheAside::new(cache, "t", TTL).with_near_cache(TTL, 100);
        let (open, calls) = (Arc::new(tokio::sync::Notify::new()), Arc::default());
        let before = {
            let (aside, fetch) = (aside.clone(), held(open.clone(), Arc::clone(&calls), 1));
            tokio::spawn(async move { aside.load("n", &[1_u32], fetch).await })
        };
        while calls.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // A write commits and deletes the key while the first read is at the database.
        aside.invalidate(&[aside.key("n", 1)]).await;
        let asked = Mutex::new(Vec::new());
        let after = tokio::time::timeout(
            Duration::from_secs(10),
            aside.load("n", &[1], database(&asked)),
        )
        .await
        .expect("waited for the fetch begun before the deletion")
        .unwrap();
        assert_eq!(
            after[&1], 2,
            "read itself, not the fetch from before the deletion"
        );
        open.notify_one();
        assert_eq!(before.await.unwrap().unwrap()[&1], 1);
    }

    #[tokio::test]
    async fn with_caching_off_every_read_goes_to_the_database() {
        let cache = Arc::new(MemoryCache::new(100, 1 << 20));
        let aside = CacheAside::new(cache, "t", Duration::ZERO);
        let asked = Mutex::new(Vec::new());
        aside.load("n", &[1], database(&asked)).await.unwrap();
        aside.load("n", &[1], database(&asked)).await.unwrap();
        assert_eq!(asked.lock().unwrap().len(), 2);
        assert!(!aside.enabled());
    }
}
