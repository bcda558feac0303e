//! The in-process cache (moka), for the single-process embedded default.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::future::Cache as Moka;

use crate::ports::{Cache, CacheError, CounterWindows, Counters, FillEntry};
use crate::request::count_cache;

#[derive(Clone)]
struct Entry {
    value: String,
    ttl: Duration,
    /// Counters keep the expiry their window started with; cached values get a fresh one on each write.
    keep_expiry: bool,
}

struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _now: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _now: Instant,
        remaining: Option<Duration>,
    ) -> Option<Duration> {
        if entry.keep_expiry {
            remaining
        } else {
            Some(entry.ttl)
        }
    }
}

pub struct MemoryCache {
    entries: Moka<String, Entry>,
    /// Limit counters, apart from the values so that a flood of values cannot evict them.
    counts: Moka<String, Entry>,
    counters: tokio::sync::Mutex<()>,
    /// Fill guards: how many times each key was deleted (see [`Cache::fill_many`]). Kept an hour after the
    /// last deletion, far longer than any read runs. Fills and deletions take the lock, reads do not.
    guards: Moka<String, u64>,
    writes: tokio::sync::Mutex<()>,
}

/// What a value costs in the values' budget: its key and its text, in bytes.
fn weight(key: &str, entry: &Entry) -> u32 {
    u32::try_from(key.len().saturating_add(entry.value.len())).unwrap_or(u32::MAX)
}

impl MemoryCache {
    /// A cache of values whose keys and texts take at most `max_value_bytes` together (a count alone would
    /// let a few thousand large values, such as registered persisted queries, take gigabytes), and of at
    /// most `max_entries` counters and fill guards.
    pub fn new(max_entries: u64, max_value_bytes: u64) -> Self {
        Self {
            entries: Moka::builder()
                .max_capacity(max_value_bytes)
                .weigher(|key: &String, entry: &Entry| weight(key, entry))
                .expire_after(PerEntryTtl)
                .build(),
            counts: Moka::builder()
                .max_capacity(max_entries)
                .expire_after(PerEntryTtl)
                .build(),
            counters: tokio::sync::Mutex::new(()),
            guards: Moka::builder()
                .max_capacity(max_entries)
                .time_to_live(GUARD_TTL)
                .build(),
            writes: tokio::sync::Mutex::new(()),
        }
    }
}

impl MemoryCache {
    /// Forgets every limit counter (what a restarted server holds; for fakes of one).
    pub fn forget_counts(&self) {
        self.counts.invalidate_all();
    }

    /// Stores a cached value with a fresh expiry.
    async fn store(&self, key: &str, value: &str, ttl: Duration) {
        let entry = Entry {
            value: value.to_owned(),
            ttl,
            keep_expiry: false,
        };
        self.entries.insert(key.to_owned(), entry).await;
    }
}

/// How long a key's fill guard outlives its last deletion.
const GUARD_TTL: Duration = Duration::from_secs(3600);

#[async_trait]
impl Cache for MemoryCache {
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, CacheError> {
        count_cache();
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.entries.get(key).await.map(|e| e.value));
        }
        Ok(values)
    }

    async fn set_many(&self, entries: &[(String, String, Duration)]) -> Result<(), CacheError> {
        count_cache();
        for (key, value, ttl) in entries {
            self.store(key, value, *ttl).await;
        }
        Ok(())
    }

    async fn get_for_fill(
        &self,
        keys: &[String],
    ) -> Result<(Vec<Option<String>>, Vec<u64>), CacheError> {
        count_cache();
        let mut values = Vec::with_capacity(keys.len());
        let mut guards = Vec::with_capacity(keys.len());
        for key in keys {
            // Guard first: a deletion between the two reads then only makes the fill be refused.
            guards.push(self.guards.get(key).await.unwrap_or(0));
            values.push(self.entries.get(key).await.map(|e| e.value));
        }
        Ok((values, guards))
    }

    async fn fill_many(&self, entries: &[FillEntry]) -> Result<(), CacheError> {
        count_cache();
        let _writes = self.writes.lock().await;
        for entry in entries {
            if self.guards.get(&entry.key).await.unwrap_or(0) == entry.guard {
                self.store(&entry.key, &entry.value, entry.ttl).await;
            }
        }
        Ok(())
    }

    async fn delete(&self, keys: &[String]) -> Result<Vec<u64>, CacheError> {
        count_cache();
        let _writes = self.writes.lock().await;
        let mut guards = Vec::with_capacity(keys.len());
        for key in keys {
            let next = self.guards.get(key).await.unwrap_or(0) + 1;
            self.guards.insert(key.clone(), next).await;
            self.entries.invalidate(key).await;
            guards.push(next);
        }
        Ok(guards)
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

#[async_trait]
impl Counters for MemoryCache {
    async fn add_reading(
        &self,
        windows: &[CounterWindows],
        ttl: Duration,
    ) -> Result<Vec<(u64, u64)>, CacheError> {
        count_cache();
        // One lock for all counters: additions must not race.
        let _guard = self.counters.lock().await;
        let mut counts = Vec::with_capacity(windows.len());
        for window in windows {
            let key = &window.current;
            let (count, ttl) = match self.counts.get(key).await {
                Some(entry) => (entry.value.parse::<u64>().unwrap_or(0) + 1, entry.ttl),
                None => (1, ttl),
            };
            let entry = Entry {
                value: count.to_string(),
                ttl,
                keep_expiry: true,
            };
            self.counts.insert(key.clone(), entry).await;
            let previous = self.counts.get(&window.previous).await;
            let previous = previous.and_then(|e| e.value.parse().ok()).unwrap_or(0);
            counts.push((count, previous));
        }
        Ok(counts)
    }

    async fn read(&self, keys: &[String]) -> Result<Vec<u64>, CacheError> {
        count_cache();
        let mut counts = Vec::with_capacity(keys.len());
        for key in keys {
            let value = self.counts.get(key).await;
            counts.push(value.and_then(|e| e.value.parse().ok()).unwrap_or(0));
        }
        Ok(counts)
    }

    async fn take_back(&self, keys: &[String]) -> Result<(), CacheError> {
        count_cache();
        let _guard = self.counters.lock().await;
        for key in keys {
            self.subtract(key, 1).await;
        }
        Ok(())
    }

    async fn add_within(
        &self,
        key: &str,
        amount: u64,
        limit: u64,
        ttl: Duration,
    ) -> Result<(bool, u64), CacheError> {
        count_cache();
        let _guard = self.counters.lock().await;
        let (count, ttl) = match self.counts.get(key).await {
            Some(entry) => (entry.value.parse::<u64>().unwrap_or(0), entry.ttl),
            None => (0, ttl),
        };
        let total = count.saturating_add(amount);
        if total > limit {
            return Ok((false, count));
        }
        let entry = Entry {
            value: total.to_string(),
            ttl,
            keep_expiry: true,
        };
        self.counts.insert(key.to_owned(), entry).await;
        Ok((true, total))
    }
}

impl MemoryCache {
    /// Takes `amount` from a counter that exists (callers hold the counters' lock).
    /// Takes `amount` from a counter; one that reaches 0 is removed (a missing counter counts 0), so that
    /// refused attempts, taken back at once, hold no room a flood could use to push live counts out.
    async fn subtract(&self, key: &str, amount: u64) {
        if let Some(mut entry) = self.counts.get(key).await {
            let count = entry
                .value
                .parse::<u64>()
                .unwrap_or(0)
                .saturating_sub(amount);
            if count == 0 {
                self.counts.invalidate(key).await;
                return;
            }
            entry.value = count.to_string();
            self.counts.insert(key.to_owned(), entry).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Refused attempts are taken back at once: their counters must not stay as zeros that fill the bounded
    /// counter space and push live counts out.
    #[tokio::test]
    async fn a_counter_taken_back_to_zero_is_removed() {
        let cache = MemoryCache::new(100, 0);
        let windows = [CounterWindows {
            current: "c".into(),
            previous: "p".into(),
        }];
        for _ in 0..2 {
            cache
                .add_reading(&windows, Duration::from_secs(60))
                .await
                .unwrap();
        }
        let key = ["c".to_owned()];
        cache.take_back(&key).await.unwrap();
        assert!(cache.counts.contains_key("c"));
        assert_eq!(cache.read(&key).await.unwrap(), vec![1]);
        cache.take_back(&key).await.unwrap();
        assert!(!cache.counts.contains_key("c"), "removed at 0");
        assert_eq!(cache.read(&key).await.unwrap(), vec![0]);
        cache.take_back(&key).await.unwrap();
        assert!(!cache.counts.contains_key("c"), "not made by a take-back");
    }

    #[tokio::test]
    async fn values_expire_after_their_own_ttl() {
        let cache = MemoryCache::new(100, 1 << 20);
        cache
            .set_many(&[
                ("short".into(), "a".into(), Duration::from_millis(50)),
                ("long".into(), "b".into(), Duration::from_secs(60)),
            ])
            .await
            .unwrap();
        let keys = ["short".to_string(), "long".to_string(), "none".to_string()];
        assert_eq!(
            cache.get_many(&keys).await.unwrap(),
            vec![Some("a".into()), Some("b".into()), None]
        );
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(
            cache.get_many(&keys).await.unwrap(),
            vec![None, Some("b".into()), None]
        );
        cache.delete(&["long".to_string()]).await.unwrap();
        assert_eq!(cache.get_many(&keys).await.unwrap(), vec![None, None, None]);
    }

    #[tokio::test]
    async fn values_are_bounded_by_their_bytes_not_their_count() {
        let cache = MemoryCache::new(100_000, 64 * 1024);
        let ttl = Duration::from_secs(60);
        let big = "x".repeat(16 * 1024);
        for i in 0..40 {
            cache
                .set_many(&[(format!("k{i}"), big.clone(), ttl)])
                .await
                .unwrap();
        }
        cache.entries.run_pending_tasks().await;
        let kept = cache.entries.weighted_size();
        assert!(kept <= 64 * 1024, "{kept} bytes kept");
        assert!(cache.entries.entry_count() <= 4);
        // Small values still fit beside them.
        cache
            .set_many(&[("small".into(), "v".into(), ttl)])
            .await
            .unwrap();
        assert_eq!(
            cache.get_many(&["small".to_string()]).await.unwrap(),
            vec![Some("v".into())]
        );
    }

    #[tokio::test]
    async fn a_fill_read_before_a_deletion_is_refused() {
        let cache = MemoryCache::new(100, 1 << 20);
        let keys = ["k".to_string()];
        let (values, guards) = cache.get_for_fill(&keys).await.unwrap();
        assert_eq!(values, vec![None]);
        // A write commits and deletes the key while the reader is at the database.
        cache.delete(&keys).await.unwrap();
        let ttl = Duration::from_secs(60);
        cache
            .fill_many(&[FillEntry {
                key: "k".into(),
                value: "old".into(),
                ttl,
                guard: guards[0],
            }])
            .await
            .unwrap();
        assert_eq!(cache.get_many(&keys).await.unwrap(), vec![None], "refused");
        // A reader that began after the deletion fills.
        let (_, guards) = cache.get_for_fill(&keys).await.unwrap();
        cache
            .fill_many(&[FillEntry {
                key: "k".into(),
                value: "new".into(),
                ttl,
                guard: guards[0],
            }])
            .await
            .unwrap();
        assert_eq!(
            cache.get_many(&keys).await.unwrap(),
            vec![Some("new".into())]
        );
    }
}
