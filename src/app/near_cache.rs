//! The near cache: decoded values kept in this process in front of the shared cache, safe because it hears
//! every deletion and syncs (one shared marker round) before a request's first read. Generations, sync
//! rounds and the feed: docs/read-cache.md#the-near-cache.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, watch};

use crate::ports::{Cache, Deletion, Invalidation};
use crate::request::count_cache;
use crate::telemetry::metrics;

type Entry = Arc<dyn Any + Send + Sync>;

/// How many versions [`NearCache::changed_since`] keeps for slot values: keys share them by hash, so a
/// deletion may retire values of an unrelated key in the same bucket (never keep a changed one).
const VERSION_BUCKETS: usize = 4096;

/// Locks shared by the buckets (`bucket % STRIPES`): a keep and a forget of one key never interleave.
const STRIPES: usize = 64;

/// How long a sync round waits for its marker to come back before the waiting requests skip the near cache.
const MARK_WAIT: Duration = Duration::from_millis(500);

pub struct NearCache {
    entries: moka::sync::Cache<String, Entry>,
    ttl: Duration,
    live: AtomicBool,
    generation: AtomicU64,
    /// Advanced by every deletion but those of slot values only (see [`NearCache::forget_slot_values`]):
    /// kept templates are tagged with it.
    layout: AtomicU64,
    /// The generation at which a key in each bucket was last forgotten (see [`NearCache::bucket`]).
    versions: Box<[AtomicU64]>,
    /// The same for every key at once: the last reset (see [`NearCache::current_since`]).
    reset_at: AtomicU64,
    /// Held by a keep from its check to its insert, and by a forget from moving a key's bucket to dropping
    /// its entry: a value read before a forget is never in the map after it, even for an instant.
    stripes: Box<[Mutex<()>]>,
    /// `None` when no other process shares the cache: this process's deletions are forgotten before the
    /// write answers, so there is nothing to wait for.
    sync: Option<Rounds>,
}

/// The requesting side of sync rounds (see the module documentation).
struct Rounds {
    /// A request wants a round that starts after now.
    demand: mpsc::Sender<()>,
    /// The last finished round.
    rounds: watch::Receiver<Round>,
    /// The highest marker that came back, set by the feed's follower.
    marked: watch::Sender<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Round {
    /// When its marker was published (before the command was sent).
    sent: Option<Instant>,
    /// Whether the marker came back in time.
    ok: bool,
}

impl NearCache {
    /// A near cache of at most `max_entries` values, each kept at most `ttl`, in front of `cache`. If the
    /// cache is shared by several processes (it has an invalidation feed) the near cache is live while the
    /// feed is, and syncs before a request's reads; otherwise it is always live.
    pub fn start(ttl: Duration, max_entries: u64, cache: Arc<dyn Cache>) -> Arc<Self> {
        let feed = cache.invalidations();
        let mut near = Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(max_entries)
                .time_to_live(ttl)
                .build(),
            ttl,
            live: AtomicBool::new(feed.as_ref().is_none_or(|(live, _)| *live)),
            generation: AtomicU64::new(0),
            layout: AtomicU64::new(0),
            versions: (0..VERSION_BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            reset_at: AtomicU64::new(0),
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            sync: None,
        };
        let Some((_, feed)) = feed else {
            return Arc::new(near);
        };
        let (demand, wanted) = mpsc::channel(1);
        let (finished, rounds) = watch::channel(Round {
            sent: None,
            ok: false,
        });
        let (marked, arrived) = watch::channel(0);
        near.sync = Some(Rounds {
            demand,
            rounds,
            marked,
        });
        let near = Arc::new(near);
        tokio::spawn(follow(Arc::downgrade(&near), feed));
        tokio::spawn(run_rounds(cache, wanted, finished, arrived));
        near
    }

    /// Whether this request may use the near cache: after a sync round that began after the request did
    /// (waiting for one if needed), if that round succeeded.
    pub async fn synced(&self) -> bool {
        let Some(sync) = &self.sync else {
            return true;
        };
        if !self.live.load(Ordering::Acquire) {
            // Not following the announcements: nothing near can be trusted, so no round is worth waiting for.
            return false;
        }
        // A request's near reads see every write acknowledged before it began.
        let since = crate::request::started().unwrap_or_else(Instant::now);
        let mut rounds = sync.rounds.clone();
        let mut waited = false;
        loop {
            let round = *rounds.borrow_and_update();
            if round.sent.is_some_and(|sent| sent >= since) {
                return round.ok;
            }
            if !waited {
                // The round this request waits for is one cache round trip, shared with the others waiting.
                count_cache();
                waited = true;
            }
            // Full means a round is already wanted; it will start after now.
            let _ = sync.demand.try_send(());
            if rounds.changed().await.is_err() {
                return false;
            }
        }
    }

    /// How long a value is kept at most.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Take this before reading the shared cache or the database; hand it back to [`NearCache::keep`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Take this with [`NearCache::generation`] before building an answer whose slots are filled per request
    /// (a template): it moves with every deletion except those of slot values only.
    pub fn layout(&self) -> u64 {
        self.layout.load(Ordering::Acquire)
    }

    /// `Some(value)` (which may be "known absent") if `key` is held and the near cache is live.
    pub fn get<V: Clone + 'static>(&self, key: &str) -> Option<Option<V>> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        let entry = self.entries.get(key)?;
        entry.downcast_ref::<Option<V>>().cloned()
    }

    /// Keeps `value` for `key`, read after `generation` was taken, unless `key` may have been forgotten
    /// since (see [`NearCache::current_since`]).
    pub fn keep<V: Send + Sync + 'static>(&self, generation: u64, key: &str, value: Option<V>) {
        let bucket = Self::bucket(key);
        let _stripe = self.stripe(bucket);
        if self.live.load(Ordering::Acquire) && self.current_in(generation, bucket) {
            self.entries.insert(key.to_owned(), Arc::new(value));
        }
    }

    /// Whether a value of `key` read after `generation` was taken is still current: no forget of a key of
    /// its bucket, nor a reset, came since. Writes elsewhere in the board do not retire it.
    pub fn current_since(&self, generation: u64, key: &str) -> bool {
        self.current_in(generation, Self::bucket(key))
    }

    fn current_in(&self, generation: u64, bucket: u16) -> bool {
        self.generation() == generation
            || (self.reset_at.load(Ordering::Acquire) <= generation
                && !self.changed_since(generation, &[bucket]))
    }

    fn stripe(&self, bucket: u16) -> MutexGuard<'_, ()> {
        self.stripes[usize::from(bucket) % STRIPES]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets `keys` (deleted by this process or announced by another).
    pub fn forget(&self, keys: &[String]) {
        self.forget_as(keys, Deletion::All);
    }

    /// Forgets `keys`, deleted after a change of values that answers show only in slots (a vote moved a
    /// counter and the voter's own entry): kept answers retire, templates stay.
    pub fn forget_slot_values(&self, keys: &[String]) {
        self.forget_as(keys, Deletion::SlotValues);
    }

    /// The generation moves once before the entries go and once after, with the layout and the keys'
    /// buckets moved just before it (the buckets also as each entry goes: see [`NearCache::keep`])
    /// (readers take the generation first, then the layout: the response cache's lookup). The buckets take
    /// a generation above any a reader could take while the entries were still there: a reader that took
    /// the last generation finds the entries gone and the buckets moved, and what any other one read is
    /// retired (its answers by the generation, its slot values by the buckets).
    pub fn forget_as(&self, keys: &[String], deletion: Deletion) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        for key in keys {
            // Moved first under the key's stripe: a keep after this sees it, one before is dropped here.
            let bucket = Self::bucket(key);
            let _stripe = self.stripe(bucket);
            self.versions[usize::from(bucket)].fetch_max(self.generation() + 1, Ordering::AcqRel);
            self.entries.invalidate(key);
        }
        if deletion == Deletion::All {
            self.layout.fetch_add(1, Ordering::AcqRel);
        }
        self.move_buckets(keys);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Sets the buckets of `keys` above the generation now.
    fn move_buckets(&self, keys: &[String]) {
        let gone = self.generation() + 1;
        for key in keys {
            self.versions[usize::from(Self::bucket(key))].fetch_max(gone, Ordering::AcqRel);
        }
    }

    /// The bucket of `key` for [`NearCache::changed_since`].
    pub fn bucket(key: &str) -> u16 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        key.hash(&mut hasher);
        // VERSION_BUCKETS fits a u16.
        (hasher.finish() % VERSION_BUCKETS as u64) as u16
    }

    /// Whether a key in one of `buckets` may have been forgotten since `generation` was taken: values read
    /// from their entries after taking it are then no longer current. Every forget counts; a reset moves
    /// only the layout, which holders of such values check too.
    pub fn changed_since(&self, generation: u64, buckets: &[u16]) -> bool {
        buckets.iter().any(|b| {
            self.versions
                .get(usize::from(*b))
                .is_none_or(|v| v.load(Ordering::Acquire) > generation)
        })
    }

    /// Forgets everything; caches again only if `live`.
    fn reset(&self, live: bool) {
        self.live.store(live, Ordering::Release);
        // In the order of a forget (see `forget_as`); values kept with templates retire with the layout.
        self.generation.fetch_add(1, Ordering::AcqRel);
        {
            let _stripes: Vec<_> = (0..STRIPES as u16).map(|s| self.stripe(s)).collect();
            self.reset_at
                .fetch_max(self.generation() + 1, Ordering::AcqRel);
            self.entries.invalidate_all();
        }
        self.layout.fetch_add(1, Ordering::AcqRel);
        self.reset_at
            .fetch_max(self.generation() + 1, Ordering::AcqRel);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// Runs a sync round whenever one is wanted, one at a time, until the near cache is gone.
async fn run_rounds(
    cache: Arc<dyn Cache>,
    mut wanted: mpsc::Receiver<()>,
    finished: watch::Sender<Round>,
    mut arrived: watch::Receiver<u64>,
) {
    let mut n: u64 = 0;
    while wanted.recv().await.is_some() {
        // Let the requests that are ready to run reach `synced` first: they then share this round instead
        // of waiting for the next one.
        tokio::task::yield_now().await;
        n += 1;
        let sent = Instant::now();
        let ok = match cache.mark(n).await {
            Ok(()) => tokio::time::timeout(MARK_WAIT, arrived.wait_for(|m| *m >= n))
                .await
                .is_ok_and(|r| r.is_ok()),
            Err(_) => false,
        };
        metrics::sync_round(if ok { "ok" } else { "failed" });
        finished.send_replace(Round {
            sent: Some(sent),
            ok,
        });
    }
}

async fn follow(near: std::sync::Weak<NearCache>, mut feed: broadcast::Receiver<Invalidation>) {
    loop {
        let event = feed.recv().await;
        let Some(near) = near.upgrade() else { return };
        match event {
            Ok(Invalidation::Keys(keys)) => near.forget(&keys),
            Ok(Invalidation::SlotValues(keys)) => near.forget_slot_values(&keys),
            Ok(Invalidation::Everything) => near.reset(near.live.load(Ordering::Acquire)),
            Ok(Invalidation::Marked(n)) => {
                if let Some(sync) = &near.sync {
                    sync.marked.send_replace(n);
                }
            }
            Ok(Invalidation::Live) => {
                tracing::info!("near cache live: following the shared cache's invalidations");
                near.reset(true);
            }
            Ok(Invalidation::Lost) => {
                // Once per outage: the feed tells every failed reconnection too.
                if near.live.load(Ordering::Acquire) {
                    tracing::warn!("near cache bypassed: the invalidation feed is down");
                }
                near.reset(false);
            }
            // Announcements were missed, but the feed still runs.
            Err(RecvError::Lagged(_)) => near.reset(true),
            Err(RecvError::Closed) => {
                near.reset(false);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::cache::MemoryCache;
    use crate::adapters::cache::fakes::FeedCache;
    use crate::request::RequestState;
    use std::future::Future;

    /// Each message on the fake feed arrives this long after the one before it.
    const DELIVERY: Duration = Duration::from_millis(40);

    /// Runs `future` as a request beginning now.
    async fn as_request<F: Future>(future: F) -> F::Output {
        RequestState::begin().run(future).await
    }

    /// Waits (at most two seconds) until `done` holds.
    async fn until(mut done: impl FnMut() -> bool) {
        for _ in 0..200 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("not within two seconds");
    }

    /// A near cache in front of an in-process cache (no feed, no rounds).
    fn unshared() -> Arc<NearCache> {
        NearCache::start(
            Duration::from_secs(60),
            100,
            Arc::new(MemoryCache::new(10, 1 << 20)),
        )
    }

    fn cached(near: &NearCache, key: &str, value: u32) {
        near.keep(near.generation(), key, Some(value));
    }

    #[tokio::test]
    async fn an_invalidation_published_before_the_request_began_is_applied_before_it_reads() {
        let shared = FeedCache::new(DELIVERY);
        let near = NearCache::start(Duration::from_secs(60), 100, shared.clone());
        cached(&near, "post:1", 1);
        // Another process deletes the key and answers its write; the announcement is still on its way.
        shared.announce(&["post:1"]);
        assert_eq!(near.get::<u32>("post:1"), Some(Some(1)), "not heard yet");
        let seen = as_request(async {
            assert!(near.synced().await, "the round succeeds");
            near.get::<u32>("post:1")
        })
        .await;
        assert_eq!(seen, None, "the sync round waited for the announcement");
        assert_eq!(shared.marks(), 1);
    }

    #[tokio::test]
    async fn one_round_serves_every_request_that_began_before_it_was_sent() {
        let shared = FeedCache::new(DELIVERY);
        let near = NearCache::start(Duration::from_secs(60), 100, shared.clone());
        let began = RequestState::begin();
        let requests = (0..8).map(|_| began.run(near.synced()));
        let synced = futures::future::join_all(requests).await;
        assert!(synced.iter().all(|ok| *ok));
        assert_eq!(shared.marks(), 1, "eight requests, one round");
        // A request that began before that round was sent needs no other.
        assert!(began.run(near.synced()).await);
        assert_eq!(shared.marks(), 1);
        // One that began after it waits for a round of its own.
        assert!(as_request(near.synced()).await);
        assert_eq!(shared.marks(), 2);
    }

    #[tokio::test]
    async fn a_round_whose_marker_does_not_come_back_skips_the_near_cache() {
        let shared = FeedCache::new(DELIVERY);
        let near = NearCache::start(Duration::from_secs(60), 100, shared.clone());
        shared.drop_marks(true);
        let began = Instant::now();
        assert!(!as_request(near.synced()).await, "round failed");
        assert!(began.elapsed() >= MARK_WAIT, "waited for the marker first");
        // The next round works again.
        shared.drop_marks(false);
        assert!(as_request(near.synced()).await);
    }

    #[tokio::test]
    async fn while_the_feed_is_down_nothing_is_kept_or_served() {
        let shared = FeedCache::new(DELIVERY);
        let near = NearCache::start(Duration::from_secs(60), 100, shared.clone());
        cached(&near, "post:1", 1);
        shared.connection(false);
        until(|| near.get::<u32>("post:1").is_none()).await;
        assert!(!as_request(near.synced()).await);
        assert_eq!(shared.marks(), 0, "no round is worth waiting for");
        cached(&near, "post:2", 2);
        assert_eq!(near.get::<u32>("post:2"), None, "nothing kept while down");
        // Back: everything from before was forgotten (deletions may have been missed), caching resumes.
        shared.connection(true);
        until(|| near.live.load(Ordering::Acquire)).await;
        assert_eq!(near.get::<u32>("post:1"), None);
        cached(&near, "post:3", 3);
        assert_eq!(near.get::<u32>("post:3"), Some(Some(3)));
    }

    /// A key in another bucket than `key`'s.
    fn elsewhere(key: &str) -> String {
        (2..)
            .map(|n| format!("post:{n}"))
            .find(|k| NearCache::bucket(k) != NearCache::bucket(key))
            .expect("a key in another bucket")
    }

    #[tokio::test]
    async fn a_value_read_before_a_deletion_of_its_key_is_not_kept() {
        let near = unshared();
        let generation = near.generation();
        // A deletion of another key lands while the value is being read: the value is still current.
        near.forget(&[elsewhere("post:1")]);
        assert_ne!(
            near.generation(),
            generation,
            "every deletion moves the generation"
        );
        near.keep(generation, "post:1", Some(1_u32));
        assert_eq!(near.get::<u32>("post:1"), Some(Some(1)));
        // A deletion of its own key: what was read before it is refused.
        let generation = near.generation();
        near.forget(&["post:1".to_owned()]);
        near.keep(generation, "post:1", Some(1_u32));
        assert_eq!(
            near.get::<u32>("post:1"),
            None,
            "kept after its deletion: refused"
        );
        // Read after the deletion: kept, and "known absent" is kept too.
        let generation = near.generation();
        near.keep(generation, "post:1", Some(2_u32));
        near.keep::<u32>(generation, "post:2", None);
        assert_eq!(near.get::<u32>("post:1"), Some(Some(2)));
        assert_eq!(near.get::<u32>("post:2"), Some(None));
    }

    #[tokio::test]
    async fn a_value_read_before_a_reset_is_not_kept() {
        let near = unshared();
        let generation = near.generation();
        near.reset(true);
        near.keep(generation, "post:1", Some(1_u32));
        assert_eq!(
            near.get::<u32>("post:1"),
            None,
            "every key is retired by a reset"
        );
        cached(&near, "post:1", 1);
        assert_eq!(near.get::<u32>("post:1"), Some(Some(1)));
    }

    #[test]
    fn a_keep_racing_a_forget_of_its_key_never_outlives_it() {
        // One thread keeps the key without pause, each value being the generation it read under; the
        // other forgets it again and again. After each forget, a value read before it began is not held.
        let near = unshared();
        let stop = Arc::new(AtomicBool::new(false));
        let keeper = {
            let (near, stop) = (Arc::clone(&near), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let generation = near.generation();
                    near.keep(generation, "post:1", Some(generation));
                }
            })
        };
        for _ in 0..20_000 {
            let before = near.generation();
            near.forget(&["post:1".to_owned()]);
            if let Some(Some(read_at)) = near.get::<u64>("post:1") {
                assert!(
                    read_at > before,
                    "read at {read_at}, before a forget begun at {before}"
                );
            }
        }
        stop.store(true, Ordering::Relaxed);
        keeper.join().unwrap();
    }

    #[tokio::test]
    async fn values_live_at_most_the_ttl_and_need_no_round_without_a_feed() {
        let near = NearCache::start(
            Duration::from_millis(50),
            100,
            Arc::new(MemoryCache::new(10, 1 << 20)),
        );
        assert!(near.synced().await, "in-process cache: nothing to wait for");
        cached(&near, "post:1", 1);
        assert_eq!(near.get::<u32>("post:1"), Some(Some(1)));
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(near.get::<u32>("post:1"), None, "expired");
    }

    #[tokio::test]
    async fn deletions_of_slot_values_move_the_generation_but_not_the_layout() {
        let near = unshared();
        cached(&near, "post:1", 1);
        let (generation, layout) = (near.generation(), near.layout());
        near.forget_slot_values(&["post:1".to_owned()]);
        assert_eq!(
            near.get::<u32>("post:1"),
            None,
            "the entry is forgotten all the same"
        );
        assert!(near.generation() > generation);
        assert_eq!(near.layout(), layout);
        near.forget(&["post:2".to_owned()]);
        assert!(near.layout() > layout);
    }

    #[tokio::test]
    async fn values_read_since_a_generation_are_retired_by_a_forget_of_their_keys_only() {
        let near = unshared();
        let keys = ["post:1", "voted_post:7:1"].map(String::from);
        let buckets: Vec<u16> = keys.iter().map(|k| NearCache::bucket(k)).collect();
        let read_at = near.generation();
        assert!(!near.changed_since(read_at, &buckets));
        // Another key: the values stay current (unless it shares a bucket, which only retires them).
        let other = (2..)
            .map(|n| format!("post:{n}"))
            .find(|k| !buckets.contains(&NearCache::bucket(k)))
            .expect("a key in another bucket");
        near.forget_slot_values(&[other]);
        assert!(!near.changed_since(read_at, &buckets));
        // One of theirs, as a vote or as any other deletion.
        near.forget_slot_values(&keys[1..]);
        assert!(near.changed_since(read_at, &buckets));
        let read_again = near.generation();
        assert!(!near.changed_since(read_again, &buckets));
        near.forget(&keys[..1]);
        assert!(near.changed_since(read_again, &buckets));
        // Taken at the generation the forget left: current (the entries were gone before it was). Taken
        // just before it, while the forget was under way: retired, like an answer kept under it.
        assert!(!near.changed_since(near.generation(), &buckets));
        assert!(near.changed_since(near.generation() - 1, &buckets));
    }
}
