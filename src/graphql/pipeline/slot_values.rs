//! Values of a template's slots kept between requests: its counters once for every request, and each
//! signed-in viewer's own values. A request answered from a template splices them in; a vote retires only
//! the values read from the entries it deleted (the counter's, and the voter's own), so the other viewers'
//! next reads are spliced, not filled again. docs/read-cache.md#slot-values-kept-between-requests.

use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use crate::app::flights::{self, Boarding, Flights};
use crate::app::near_cache::NearCache;
use crate::graphql::viewer_reads::SlotValue;
use crate::telemetry::metrics;

/// Values of some of a template's slots, read after `since` was taken.
#[derive(Debug)]
pub(super) struct SlotVector {
    /// The layout of the template they were read for: its slots, in body order.
    layout: u64,
    /// The near cache's generation taken before they were read.
    since: u64,
    /// The near cache's buckets of the entries they were read from.
    buckets: Vec<u16>,
    /// One per slot of the template, in body order (`None`: a slot of another kind).
    pub values: Vec<Option<SlotValue>>,
}

impl SlotVector {
    /// Current for a template of `layout`: none of its entries forgotten since it was read.
    fn current(&self, near: &NearCache, layout: u64) -> bool {
        self.layout == layout && !near.changed_since(self.since, &self.buckets)
    }

    /// How many bytes it holds, about.
    pub fn weight(&self) -> u32 {
        let bytes = 64
            + self.values.len() * std::mem::size_of::<Option<SlotValue>>()
            + self.buckets.len() * 2;
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }
}

/// What a read of slot values found: the values (one per slot) and the buckets of their entries.
pub(super) type Read = (Vec<Option<SlotValue>>, Vec<u16>);

/// Where slot values of one kind are kept, and read once for every request asking meanwhile.
pub(super) struct Kept<K: Hash + Eq> {
    /// Its reads' `result` in the response cache's `board.cache.requests`.
    reads: &'static str,
    held: moka::sync::Cache<K, Arc<SlotVector>>,
    reading: Flights<K, SlotVector>,
}

impl<K> Kept<K>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    /// At most `max_bytes` of values, each kept at most `ttl`; its reads counted as `reads`.
    pub fn new(reads: &'static str, max_bytes: u64, ttl: std::time::Duration) -> Self {
        Self {
            reads,
            held: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_, v: &Arc<SlotVector>| v.weight())
                .time_to_live(ttl)
                .build(),
            reading: Flights::default(),
        }
    }

    /// The current values of `key` for a template of `layout`: held, or read by `read` (once for every
    /// request asking meanwhile, which take what it read: it began after they asked). `None`: the read
    /// failed. Call it after the request synced (the lookup did).
    pub async fn current<F, Fut>(
        &self,
        near: &NearCache,
        key: K,
        layout: u64,
        read: F,
    ) -> Option<Arc<SlotVector>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Option<Read>>,
    {
        if let Some(held) = self.held.get(&key).filter(|v| v.current(near, layout)) {
            return Some(held);
        }
        let since = near.generation();
        let lead = match self.reading.board(
            since,
            None,
            std::slice::from_ref(&key),
            flights::same_generation_only,
        ) {
            Boarding::Lead(lead) => Some(lead),
            Boarding::Follow(landed) => {
                for values in landed {
                    if let Some(values) = flights::wait(values).await
                        && values.layout == layout
                    {
                        return Some(values);
                    }
                }
                None
            }
        };
        metrics::cache(super::response_cache::METRIC, self.reads, 1);
        let (values, buckets) = read().await?;
        let read = Arc::new(SlotVector {
            layout,
            since,
            buckets,
            values,
        });
        self.held.insert(key, Arc::clone(&read));
        if let Some(lead) = lead {
            lead.land(Arc::clone(&read));
        }
        Some(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::cache::MemoryCache;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn near() -> Arc<NearCache> {
        NearCache::start(
            Duration::from_secs(60),
            100,
            Arc::new(MemoryCache::new(10, 1 << 20)),
        )
    }

    /// A read of one counter from `key`'s entry, counted in `reads`.
    fn counter(
        reads: &AtomicUsize,
        key: &str,
        n: i64,
    ) -> impl Future<Output = Option<Read>> + use<> {
        reads.fetch_add(1, Ordering::SeqCst);
        let bucket = NearCache::bucket(key);
        async move { Some((vec![Some(SlotValue::Count(n))], vec![bucket])) }
    }

    #[tokio::test]
    async fn values_are_read_once_and_again_only_after_their_entry_is_forgotten() {
        let near = near();
        let kept: Kept<u8> = Kept::new("test", 1 << 20, Duration::from_secs(60));
        let reads = AtomicUsize::new(0);
        let layout = near.layout();
        let first = kept
            .current(&near, 1, layout, || counter(&reads, "post:1", 5))
            .await
            .expect("read");
        let again = kept
            .current(&near, 1, layout, || counter(&reads, "post:1", 6))
            .await
            .expect("held");
        assert_eq!(again.values, first.values);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        // A vote elsewhere: still held.
        near.forget_slot_values(&["voted_post:9:9".to_owned()]);
        kept.current(&near, 1, layout, || counter(&reads, "post:1", 6))
            .await
            .expect("held");
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        // A vote on it: read again.
        near.forget_slot_values(&["post:1".to_owned()]);
        let after = kept
            .current(&near, 1, layout, || counter(&reads, "post:1", 6))
            .await
            .expect("read");
        assert_eq!(after.values, vec![Some(SlotValue::Count(6))]);
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        // Another template (another layout) never takes them.
        near.forget(&["category:1".to_owned()]);
        kept.current(&near, 1, near.layout(), || counter(&reads, "post:1", 6))
            .await
            .expect("read");
        assert_eq!(reads.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn requests_asking_while_values_are_read_share_that_read() {
        let near = near();
        let kept: Arc<Kept<u8>> = Arc::new(Kept::new("test", 1 << 20, Duration::from_secs(60)));
        let reads = Arc::new(AtomicUsize::new(0));
        let layout = near.layout();
        let (release, gate) = tokio::sync::watch::channel(false);
        let asking = (0..8).map(|_| {
            let (near, kept, reads, mut gate) = (
                Arc::clone(&near),
                Arc::clone(&kept),
                Arc::clone(&reads),
                gate.clone(),
            );
            tokio::spawn(async move {
                kept.current(&near, 1, layout, || async move {
                    reads.fetch_add(1, Ordering::SeqCst);
                    let _ = gate.wait_for(|open| *open).await;
                    Some((
                        vec![Some(SlotValue::Count(1))],
                        vec![NearCache::bucket("post:1")],
                    ))
                })
                .await
            })
        });
        let asking: Vec<_> = asking.collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.send_replace(true);
        for answer in asking {
            assert!(answer.await.expect("joined").is_some());
        }
        assert_eq!(
            reads.load(Ordering::SeqCst),
            1,
            "one read for eight requests"
        );
    }
}
