use super::*;
use crate::adapters::cache::MemoryCache;
use crate::adapters::cache::fakes::{FailingCache, RefusingCounters};
use chrono::TimeZone;

const WINDOW: Duration = Duration::from_secs(900);

fn limiter(counters: Arc<dyn Counters>) -> Limiter {
    let limits = Limits {
        per_account: 3,
        per_client: 100,
        sign_ups_per_client: 2,
        edits_per_user: 5,
        creates_per_user: 5,
        reports_per_user: 5,
        window: WINDOW,
        points_per_window: 100,
        points_window: WINDOW,
    };
    Limiter::new(
        counters,
        Arc::new(MemoryCache::new(1000, 1 << 20)),
        "t",
        limits,
    )
}

/// `seconds` into a window (window 2 000 000 of 900 s).
fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(2_000_000 * 900 + seconds, 0).unwrap()
}

/// What the shared counters hold under `key`.
async fn held(shared: &RefusingCounters, key: &str) -> u64 {
    shared.counts.read(&[key.to_owned()]).await.unwrap()[0]
}

fn retry_after_of<T: std::fmt::Debug>(result: AppResult<T>) -> u64 {
    match result {
        Err(AppError::RateLimited {
            retry_after_seconds,
        }) => retry_after_seconds,
        other => panic!("not limited: {other:?}"),
    }
}

#[tokio::test]
async fn attempts_are_reserved_up_to_the_limit_and_a_refusal_is_taken_back() {
    let counters = Arc::new(MemoryCache::new(100, 1 << 20));
    let limiter = limiter(counters.clone());
    let account = Guessed::Account(UserId(7));
    for _ in 0..3 {
        limiter.reserve_guess(account, "c", at(100)).await.unwrap();
    }
    let wait = retry_after_of(limiter.reserve_guess(account, "c", at(100)).await);
    assert!((1..=900).contains(&wait), "{wait}");
    // The refused attempt does not count: the account's window holds the three that ran.
    let key = limiter.key("guess_account", &account.subject(), 2_000_000);
    assert_eq!(counters.read(&[key]).await.unwrap(), vec![3]);
    let client = limiter.key("guess_client", "c", 2_000_000);
    assert_eq!(counters.read(&[client]).await.unwrap(), vec![3]);
}

#[tokio::test]
async fn a_taken_back_attempt_frees_its_slot() {
    let limiter = limiter(Arc::new(MemoryCache::new(100, 1 << 20)));
    let account = Guessed::Unknown("someone");
    let mut reserved = None;
    for _ in 0..3 {
        reserved = Some(limiter.reserve_guess(account, "c", at(10)).await.unwrap());
    }
    // A right password: its guess is taken back, so one more attempt fits.
    limiter.release_guess(account, "c", reserved.unwrap()).await;
    limiter.reserve_guess(account, "c", at(20)).await.unwrap();
    retry_after_of(limiter.reserve_guess(account, "c", at(20)).await);
    // A sign-up bcrypt never ran takes its slot back too.
    limiter.reserve_sign_up("c", at(30)).await.unwrap();
    let reserved = limiter.reserve_sign_up("c", at(30)).await.unwrap();
    limiter.release_sign_up("c", reserved).await;
    limiter.reserve_sign_up("c", at(30)).await.unwrap();
    retry_after_of(limiter.reserve_sign_up("c", at(30)).await);
}

#[tokio::test]
async fn the_previous_window_still_counts_for_its_overlap() {
    let limiter = limiter(Arc::new(MemoryCache::new(100, 1 << 20)));
    let user = UserId(1);
    for _ in 0..5 {
        limiter.reserve_edit(user, at(800)).await.unwrap();
    }
    // 10 s into the next window the five weigh 5 × 0.99 > 4: still no room.
    let wait = retry_after_of(limiter.reserve_edit(user, at(910)).await);
    assert!((1..=900).contains(&wait), "{wait}");
    // Room once their weight has fallen below 4 (at 1/5 of the window, 180 s in).
    limiter.reserve_edit(user, at(900 + 181)).await.unwrap();
}

#[tokio::test]
async fn failing_shared_counters_fall_back_to_the_same_limits_in_this_process() {
    let limiter = limiter(Arc::new(FailingCache));
    let mut reserved = None;
    for _ in 0..3 {
        reserved = Some(
            limiter
                .reserve_guess(Guessed::Account(UserId(1)), "c", at(0))
                .await
                .unwrap(),
        );
    }
    retry_after_of(
        limiter
            .reserve_guess(Guessed::Account(UserId(1)), "c", at(0))
            .await,
    );
    // A released guess frees its slot in the counters it was counted in.
    limiter
        .release_guess(Guessed::Account(UserId(1)), "c", reserved.unwrap())
        .await;
    limiter
        .reserve_guess(Guessed::Account(UserId(1)), "c", at(0))
        .await
        .unwrap();
    for _ in 0..5 {
        limiter.reserve_create(UserId(1), at(0)).await.unwrap();
    }
    retry_after_of(limiter.reserve_create(UserId(1), at(0)).await);
}

/// Shared counters that answer with an error (CROSSSLOT, NOSCRIPT, NOPERM…) are as good as absent: every
/// limit holds with the same numbers in the process, and the shared counters are tried again after a while.
#[tokio::test]
async fn refusing_shared_counters_fall_back_and_are_tried_again_later() {
    let shared = Arc::new(RefusingCounters::default());
    let limiter = limiter(shared.clone()).retry_shared_after(Duration::from_millis(200));
    let account = Guessed::Account(UserId(9));
    limiter.reserve_guess(account, "c", at(0)).await.unwrap();
    shared.refuse(true);
    // The guesses after it are counted here, where the first one was counted too: two more fit the limit of
    // 3, the next does not (the outage starts nobody from zero).
    for _ in 0..2 {
        limiter.reserve_guess(account, "c", at(1)).await.unwrap();
    }
    retry_after_of(limiter.reserve_guess(account, "c", at(1)).await);
    // Answering again does not matter until the hold is over: no flapping between the two counts.
    shared.refuse(false);
    retry_after_of(limiter.reserve_guess(account, "c", at(2)).await);
    let key = limiter.key("guess_account", &account.subject(), 2_000_000);
    assert_eq!(held(&shared, &key).await, 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    // Then the shared counters count again. They hold 1 guess of this account, the process's own count
    // the 3 it saw: the fourth is still refused, and taken back from both.
    retry_after_of(limiter.reserve_guess(account, "c", at(3)).await);
    assert_eq!(held(&shared, &key).await, 1);
    let other = Guessed::Account(UserId(10));
    limiter.reserve_guess(other, "c2", at(3)).await.unwrap();
    let key = limiter.key("guess_account", &other.subject(), 2_000_000);
    assert_eq!(held(&shared, &key).await, 1);
    // Every other limit falls back the same way.
    shared.refuse(true);
    for _ in 0..5 {
        limiter.reserve_edit(UserId(2), at(4)).await.unwrap();
    }
    retry_after_of(limiter.reserve_edit(UserId(2), at(4)).await);
    limiter.reserve_sign_up("d", at(4)).await.unwrap();
    limiter.reserve_sign_up("d", at(4)).await.unwrap();
    retry_after_of(limiter.reserve_sign_up("d", at(4)).await);
}

/// The process counts its own attempts all along: when the shared counters start failing, an account
/// that used its guesses is still refused, and a guess taken back while they answered is free in both.
#[tokio::test]
async fn an_outage_of_the_shared_counters_starts_nobody_from_zero() {
    let shared = Arc::new(RefusingCounters::default());
    let limiter = limiter(shared.clone());
    let account = Guessed::Account(UserId(11));
    let mut reserved = None;
    for _ in 0..3 {
        reserved = Some(limiter.reserve_guess(account, "e", at(0)).await.unwrap());
    }
    limiter.release_guess(account, "e", reserved.unwrap()).await;
    limiter.reserve_guess(account, "e", at(0)).await.unwrap();
    retry_after_of(limiter.reserve_guess(account, "e", at(0)).await);
    shared.refuse(true);
    retry_after_of(limiter.reserve_guess(account, "e", at(1)).await);
    // Another account's budget is whole in the process too.
    for _ in 0..3 {
        limiter
            .reserve_guess(Guessed::Account(UserId(12)), "f", at(1))
            .await
            .unwrap();
    }
}

/// Guesses made while the shared counters failed are not forgotten when they answer again: they never
/// saw them, but the process's own count did, and the higher of the two is the one judged.
#[tokio::test]
async fn guesses_made_during_an_outage_still_count_once_the_shared_counters_are_back() {
    let shared = Arc::new(RefusingCounters::default());
    let limiter = limiter(shared.clone()).retry_shared_after(Duration::ZERO);
    let account = Guessed::Account(UserId(13));
    shared.refuse(true);
    for _ in 0..3 {
        limiter.reserve_guess(account, "g", at(0)).await.unwrap();
    }
    shared.refuse(false);
    retry_after_of(limiter.reserve_guess(account, "g", at(1)).await);
    let key = limiter.key("guess_account", &account.subject(), 2_000_000);
    // The refusal was counted in the shared counters, then taken back there too.
    assert_eq!(held(&shared, &key).await, 0);
}

/// A guess is taken back where it was counted: one counted only in the process while the shared counters
/// failed does not take an attempt away from them once they answer again (nor does any take-back make a
/// count negative, which would hand out attempts).
#[tokio::test]
async fn a_guess_is_taken_back_only_where_it_was_counted() {
    let shared = Arc::new(RefusingCounters::default());
    let limiter = limiter(shared.clone()).retry_shared_after(Duration::ZERO);
    let account = Guessed::Account(UserId(14));
    limiter.reserve_guess(account, "h", at(0)).await.unwrap();
    shared.refuse(true);
    let degraded = limiter.reserve_guess(account, "h", at(0)).await.unwrap();
    shared.refuse(false);
    limiter.reserve_guess(account, "h", at(0)).await.unwrap();
    let key = limiter.key("guess_account", &account.subject(), 2_000_000);
    assert_eq!(held(&shared, &key).await, 2);
    // Released after the shared counters came back: they never counted it, so they keep their 2.
    limiter.release_guess(account, "h", degraded).await;
    assert_eq!(held(&shared, &key).await, 2);
    // The process's own count (3 attempts, 1 taken back) and the shared one agree: one more fits.
    limiter.reserve_guess(account, "h", at(0)).await.unwrap();
    retry_after_of(limiter.reserve_guess(account, "h", at(0)).await);
}

/// A Redis that restarts empty under a process, without any of its commands failing, hands nobody a fresh
/// budget: the server change is noticed, and the process's own count is judged beside the empty shared one.
#[tokio::test]
async fn shared_counters_restarted_empty_give_no_fresh_budget() {
    let shared = Arc::new(RefusingCounters::default());
    let limiter = limiter(shared.clone());
    let account = Guessed::Account(UserId(15));
    for _ in 0..3 {
        limiter.reserve_guess(account, "i", at(0)).await.unwrap();
    }
    retry_after_of(limiter.reserve_guess(account, "i", at(0)).await);
    shared.restart_empty();
    retry_after_of(limiter.reserve_guess(account, "i", at(1)).await);
    // Another account, whose guesses the process has not seen, still has its whole budget.
    for _ in 0..3 {
        limiter
            .reserve_guess(Guessed::Account(UserId(16)), "j", at(1))
            .await
            .unwrap();
    }
}

/// Both windows of a subject carry one hash tag (one Redis Cluster slot); subjects differ.
#[test]
fn the_windows_of_one_subject_share_a_hash_tag() {
    let limiter = limiter(Arc::new(MemoryCache::new(10, 0)));
    let current = limiter.key("guess_account", "7", 11);
    let previous = limiter.key("guess_account", "7", 10);
    let tag = |key: &str| {
        let open = key.find('{').unwrap();
        let close = key[open..].find('}').unwrap() + open;
        key[open + 1..close].to_owned()
    };
    assert_eq!(current, "t:v1:limit:{guess_account:7}:11");
    assert_eq!(tag(&current), tag(&previous));
    assert_ne!(tag(&current), tag(&limiter.key("guess_client", "7", 11)));
}

#[tokio::test]
async fn with_no_counters_at_all_nothing_is_limited() {
    let limiter = Limiter::new(
        Arc::new(FailingCache),
        Arc::new(FailingCache),
        "t",
        Limits {
            per_account: 1,
            per_client: 1,
            sign_ups_per_client: 1,
            edits_per_user: 1,
            creates_per_user: 1,
            reports_per_user: 1,
            window: WINDOW,
            points_per_window: 1,
            points_window: WINDOW,
        },
    );
    for _ in 0..3 {
        limiter.reserve_create(UserId(1), at(0)).await.unwrap();
    }
}

#[test]
fn retry_after_is_never_beyond_the_window_nor_zero() {
    for width in [1, 60, 900] {
        for step in 0..=20 {
            let elapsed = f64::from(step) / 20.0;
            for (current, previous) in [(0, 0), (5, 0), (0, 5), (4, 9), (50, 50), (1_000, 0)] {
                let wait = retry_after(current, previous, 5, elapsed, width);
                assert!(
                    (1..=width).contains(&wait),
                    "{current} {previous} {elapsed} {width}: {wait}"
                );
            }
        }
    }
}

#[test]
fn retry_after_waits_until_the_sliding_window_has_room() {
    // Limit 5, window 900 s. Five attempts late in this window (e = 0.9): room once they have become
    // the previous window's and faded below 4 — the rest of this window (90 s), then 1/5 of the next.
    assert_eq!(retry_after(5, 0, 5, 0.9, 900), 270);
    // At the start of this window the estimate would say 1 080 s; no attempt is held past the window.
    assert_eq!(retry_after(5, 0, 5, 0.0, 900), 900);
    // Five attempts in the previous window, a third into this one: their weight 5 × (1 − e) must
    // fall to 4, at e = 0.2 — already past: room now (at least a second).
    assert_eq!(retry_after(0, 5, 5, 0.34, 900), 1);
    // At e = 0.1 it is 0.1 of the window (90 s) away.
    assert_eq!(retry_after(0, 5, 5, 0.1, 900), 90);
    // Two in this window and ten in the previous, half-way: 10 × (1 − e) ≤ 2 → e = 0.8 → 270 s.
    assert_eq!(retry_after(2, 10, 5, 0.5, 900), 270);
    // Never more than one window, never 0.
    assert_eq!(retry_after(1_000, 1_000, 5, 0.0, 900), 900);
    assert_eq!(retry_after(0, 0, 5, 0.5, 900), 1);
}
