//! Unit tests of `CacheAside`: fills, guards, failures, the near cache and reads in flight.

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
    // A reader in between (the write has not answered): the old value, near or shared.
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

#[tokio::test]
async fn a_key_its_own_request_deleted_is_filled_without_asking_the_cache() {
    let cache = Arc::new(MemoryCache::new(100, 1 << 20));
    let aside = CacheAside::new(cache.clone(), "t", TTL);
    let asked = Mutex::new(Vec::new());
    let keys = [aside.key("n", 1), aside.key("n", 2)];
    aside
        .load("n", &[1_u32, 2], database(&asked))
        .await
        .unwrap();
    let write = RequestState::begin();
    let found = write
        .run(async {
            aside.invalidate(&keys).await;
            aside
                .load("n", &[1_u32, 2], database(&asked))
                .await
                .unwrap()
        })
        .await;
    assert_eq!(sorted(found), vec![(1, 2), (2, 4)]);
    assert_eq!(asked.lock().unwrap()[1], vec![1, 2], "both read again");
    assert_eq!(
        write.cache(),
        2,
        "the deletion and the fill: no read of the cache"
    );
    let filled = cache.get_many(&keys).await.unwrap();
    assert_eq!(filled, vec![Some("2".into()), Some("4".into())]);
    // The guard is taken once: the same request's next read of the key asks the cache again.
    let found = write
        .run(aside.load("n", &[1_u32], database(&asked)))
        .await
        .unwrap();
    assert_eq!(sorted(found), vec![(1, 2)]);
    assert_eq!(write.cache(), 3, "a hit in the cache");
}

#[tokio::test]
async fn a_deletion_after_the_requests_own_refuses_its_fill() {
    let cache = Arc::new(MemoryCache::new(100, 1 << 20));
    let aside = CacheAside::new(cache.clone(), "t", TTL);
    let key = aside.key("n", 1);
    let write = RequestState::begin();
    write
        .run(aside.invalidate(std::slice::from_ref(&key)))
        .await;
    // Another write deletes the key again before this request reads what it holds.
    aside.invalidate(std::slice::from_ref(&key)).await;
    let found = write
        .run(aside.load("n", &[1_u32], |ids| async {
            Ok(ids.into_iter().map(|id| (id, 99_u64)).collect())
        }))
        .await
        .unwrap();
    assert_eq!(sorted(found), vec![(1, 99)]);
    assert_eq!(
        cache.get_many(std::slice::from_ref(&key)).await.unwrap(),
        vec![None],
        "filled under the guard of its own deletion, which the later one moved past"
    );
}
