//! Test doubles of the `Cache` port: a shared cache whose invalidation feed is a wire with a delivery delay
//! (what Redis pub/sub is to a near cache), one whose deletions can be held back, a cache that always
//! fails, and shared counters that refuse commands on demand.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{broadcast, mpsc};

use super::MemoryCache;
use crate::ports::{Cache, CacheError, Counters, FillEntry, Invalidation};

/// A cache shared with other (pretend) processes: values live in a [`MemoryCache`]; deletions, other
/// processes' announcements and sync marks travel one ordered wire, each delivered `delay` after the one
/// before it, like messages on one Redis connection.
pub struct FeedCache {
    values: MemoryCache,
    wire: mpsc::UnboundedSender<Invalidation>,
    feed: broadcast::Sender<Invalidation>,
    live: Arc<AtomicBool>,
    /// Marks published so far.
    marks: AtomicU64,
    /// When set, marks are published but never come back (a marker lost on the way).
    drop_marks: AtomicBool,
}

impl FeedCache {
    pub fn new(delay: Duration) -> Arc<Self> {
        let (wire, mut delivered) = mpsc::unbounded_channel::<Invalidation>();
        let (feed, _) = broadcast::channel(64);
        let live = Arc::new(AtomicBool::new(true));
        let out = feed.clone();
        let flag = Arc::clone(&live);
        tokio::spawn(async move {
            while let Some(message) = delivered.recv().await {
                tokio::time::sleep(delay).await;
                match message {
                    Invalidation::Lost => flag.store(false, Ordering::Release),
                    Invalidation::Live => flag.store(true, Ordering::Release),
                    _ => {}
                }
                let _ = out.send(message);
            }
        });
        Arc::new(Self {
            values: MemoryCache::new(1000, 1 << 20),
            wire,
            feed,
            live,
            marks: AtomicU64::new(0),
            drop_marks: AtomicBool::new(false),
        })
    }

    /// Another process deleted `keys`: its announcement is on the wire now, delivered later.
    pub fn announce(&self, keys: &[&str]) {
        let keys = keys.iter().map(|k| (*k).to_owned()).collect();
        let _ = self.wire.send(Invalidation::Keys(keys));
    }

    /// The feed's connection drops (`Lost`), or comes back (`Live`).
    pub fn connection(&self, up: bool) {
        let notice = if up {
            Invalidation::Live
        } else {
            Invalidation::Lost
        };
        let _ = self.wire.send(notice);
    }

    pub fn marks(&self) -> u64 {
        self.marks.load(Ordering::Acquire)
    }

    pub fn drop_marks(&self, drop: bool) {
        self.drop_marks.store(drop, Ordering::Release);
    }
}

#[async_trait]
impl Cache for FeedCache {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, CacheError> {
        self.values.get_many(keys).await
    }

    async fn set_many(&self, entries: &[(String, String, Duration)]) -> Result<(), CacheError> {
        self.values.set_many(entries).await
    }

    async fn get_for_fill(
        &self,
        keys: &[String],
    ) -> Result<(Vec<Option<String>>, Vec<u64>), CacheError> {
        self.values.get_for_fill(keys).await
    }

    async fn fill_many(&self, entries: &[FillEntry]) -> Result<(), CacheError> {
        self.values.fill_many(entries).await
    }

    async fn delete(&self, keys: &[String]) -> Result<Vec<u64>, CacheError> {
        let guards = self.values.delete(keys).await?;
        let _ = self.wire.send(Invalidation::Keys(keys.to_vec()));
        Ok(guards)
    }

    fn invalidations(&self) -> Option<(bool, broadcast::Receiver<Invalidation>)> {
        let feed = self.feed.subscribe();
        Some((self.live.load(Ordering::Acquire), feed))
    }

    async fn mark(&self, n: u64) -> Result<(), CacheError> {
        self.marks.fetch_add(1, Ordering::AcqRel);
        if !self.drop_marks.load(Ordering::Acquire) {
            let _ = self.wire.send(Invalidation::Marked(n));
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "fake"
    }
}

/// An in-process cache whose deletions wait, when told to, until released: what a test needs to read in
/// the middle of an invalidation.
pub struct GatedCache {
    values: MemoryCache,
    holding: AtomicBool,
    /// Tells the test a deletion is waiting.
    waiting: tokio::sync::Notify,
    gate: tokio::sync::Notify,
}

impl GatedCache {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            values: MemoryCache::new(1000, 1 << 20),
            holding: AtomicBool::new(false),
            waiting: tokio::sync::Notify::new(),
            gate: tokio::sync::Notify::new(),
        })
    }

    /// The next deletion waits for [`GatedCache::release`].
    pub fn hold(&self) {
        self.holding.store(true, Ordering::Release);
    }

    /// Until a deletion waits.
    pub async fn held(&self) {
        self.waiting.notified().await;
    }

    pub fn release(&self) {
        self.holding.store(false, Ordering::Release);
        self.gate.notify_one();
    }
}

#[async_trait]
impl Cache for GatedCache {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, CacheError> {
        self.values.get_many(keys).await
    }

    async fn set_many(&self, entries: &[(String, String, Duration)]) -> Result<(), CacheError> {
        self.values.set_many(entries).await
    }

    async fn get_for_fill(
        &self,
        keys: &[String],
    ) -> Result<(Vec<Option<String>>, Vec<u64>), CacheError> {
        self.values.get_for_fill(keys).await
    }

    async fn fill_many(&self, entries: &[FillEntry]) -> Result<(), CacheError> {
        self.values.fill_many(entries).await
    }

    async fn delete(&self, keys: &[String]) -> Result<Vec<u64>, CacheError> {
        if self.holding.load(Ordering::Acquire) {
            self.waiting.notify_one();
            self.gate.notified().await;
        }
        self.values.delete(keys).await
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "gated"
    }
}

/// A cache that answers every command with an error (Redis down).
pub struct FailingCache;

fn down() -> CacheError {
    CacheError("down".into())
}

#[async_trait]
impl Cache for FailingCache {
    async fn get_many(&self, _keys: &[String]) -> Result<Vec<Option<String>>, CacheError> {
        Err(down())
    }

    async fn set_many(&self, _entries: &[(String, String, Duration)]) -> Result<(), CacheError> {
        Err(down())
    }

    async fn get_for_fill(
        &self,
        _keys: &[String],
    ) -> Result<(Vec<Option<String>>, Vec<u64>), CacheError> {
        Err(down())
    }

    async fn fill_many(&self, _entries: &[FillEntry]) -> Result<(), CacheError> {
        Err(down())
    }

    async fn delete(&self, _keys: &[String]) -> Result<Vec<u64>, CacheError> {
        Err(down())
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Err(down())
    }

    fn kind(&self) -> &'static str {
        "failing"
    }
}

#[async_trait]
impl Counters for FailingCache {
    async fn add_reading(
        &self,
        _windows: &[crate::ports::CounterWindows],
        _ttl: Duration,
    ) -> Result<Vec<(u64, u64)>, CacheError> {
        Err(down())
    }

    async fn read(&self, _keys: &[String]) -> Result<Vec<u64>, CacheError> {
        Err(down())
    }

    async fn take_back(&self, _keys: &[String]) -> Result<(), CacheError> {
        Err(down())
    }

    async fn add_within(
        &self,
        _key: &str,
        _amount: u64,
        _limit: u64,
        _ttl: Duration,
    ) -> Result<(bool, u64), CacheError> {
        Err(down())
    }
}

/// Shared counters that answer from a [`MemoryCache`] until told to refuse: then every command is answered
/// with an error, as a Redis Cluster answers a script whose keys span slots. They count the additions
/// asked of them, and let other tasks run while one is out, as a round trip would.
pub struct RefusingCounters {
    pub counts: MemoryCache,
    refuse: AtomicBool,
    /// `add_within` calls so far.
    pub additions: std::sync::atomic::AtomicU64,
    /// Their [`Counters::server_changes`].
    changes: std::sync::atomic::AtomicU64,
}

impl Default for RefusingCounters {
    fn default() -> Self {
        Self {
            counts: MemoryCache::new(1000, 0),
            refuse: AtomicBool::new(false),
            additions: std::sync::atomic::AtomicU64::new(0),
            changes: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl RefusingCounters {
    pub fn refuse(&self, refuse: bool) {
        self.refuse.store(refuse, Ordering::Release);
    }

    /// Their server restarts empty, as a Redis that keeps nothing on disk does: every count is gone, and
    /// the change is reported.
    pub fn restart_empty(&self) {
        self.counts.forget_counts();
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    fn check(&self) -> Result<(), CacheError> {
        if self.refuse.load(Ordering::Acquire) {
            Err(CacheError(
                "CROSSSLOT Keys in request don't hash to the same slot".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Counters for RefusingCounters {
    async fn add_reading(
        &self,
        windows: &[crate::ports::CounterWindows],
        ttl: Duration,
    ) -> Result<Vec<(u64, u64)>, CacheError> {
        self.check()?;
        self.counts.add_reading(windows, ttl).await
    }

    async fn read(&self, keys: &[String]) -> Result<Vec<u64>, CacheError> {
        self.check()?;
        self.counts.read(keys).await
    }

    async fn take_back(&self, keys: &[String]) -> Result<(), CacheError> {
        self.check()?;
        self.counts.take_back(keys).await
    }

    async fn add_within(
        &self,
        key: &str,
        amount: u64,
        limit: u64,
        ttl: Duration,
    ) -> Result<(bool, u64), CacheError> {
        self.additions.fetch_add(1, Ordering::Relaxed);
        self.check()?;
        tokio::task::yield_now().await;
        self.counts.add_within(key, amount, limit, ttl).await
    }

    fn server_changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }
}
