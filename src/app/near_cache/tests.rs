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
