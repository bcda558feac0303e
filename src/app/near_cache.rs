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
            self.move_bucket(bucket);
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
        for key in keys {
            self.move_bucket(Self::bucket(key));
        }
    }

    /// Sets `bucket` above the generation now.
    fn move_bucket(&self, bucket: u16) {
        self.versions[usize::from(bucket)].fetch_max(self.generation() + 1, Ordering::AcqRel);
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
mod tests;
