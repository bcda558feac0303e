//! The points budget of GraphQL operations: each member, and each anonymous client address, has
//! `points_per_window` points per fixed window of `points_window`; an operation spends its cost before it
//! runs, added only if it fits (one atomic step: a refusal is never counted, even for a moment). Counted
//! like every other limit (shared counters, this process's own while they fail). Why fixed windows and
//! what the numbers mean: docs/cost.md.

use chrono::{DateTime, TimeZone, Utc};

use super::Limiter;
use crate::domain::UserId;
use crate::ports::Counters;
use crate::telemetry::metrics;

/// A process leases a budget's points in shares of 1 / this (docs/cost.md#leases).
const LEASE_SHARES: u64 = 100;

/// Whose budget an operation spends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spender {
    /// A signed-in member, wherever they connect from.
    Member(UserId),
    /// An anonymous client, by its address (as the other per-client limits know it).
    Client(String),
}

impl Spender {
    fn scope(&self) -> &'static str {
        match self {
            Spender::Member(_) => "points_member",
            Spender::Client(_) => "points_client",
        }
    }

    fn subject(&self) -> String {
        match self {
            Spender::Member(id) => id.0.to_string(),
            Spender::Client(address) => address.clone(),
        }
    }
}

/// A budget as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Points {
    /// Points per window.
    pub limit: u64,
    /// Points spent in the current window.
    pub used: u64,
    /// The window's length in seconds.
    pub window_secs: u64,
    /// When the current window ends and the budget is whole again.
    pub reset_at: DateTime<Utc>,
}

impl Points {
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    /// Whole seconds from `now` until the budget is whole again (at least 1).
    pub fn reset_in(&self, now: DateTime<Utc>) -> u64 {
        let millis = (self.reset_at - now).num_milliseconds().max(0) as u64;
        millis.div_ceil(1000).max(1)
    }
}

/// Why an operation may not spend its cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointsRefused {
    /// Not enough points left in this window: retry once it ends.
    Exhausted {
        points: Points,
        retry_after_seconds: u64,
    },
    /// The operation costs more than a whole window's budget: it never runs as it is.
    TooCostly { points: Points },
}

impl Limiter {
    /// Points per window and the window's length in seconds.
    pub fn points_policy(&self) -> (u64, u64) {
        (
            self.limits.points_per_window,
            self.limits.points_window.as_secs().max(1),
        )
    }

    /// (counter key, end of its window) at `now`.
    fn points_key(&self, spender: &Spender, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
        let (_, width) = self.points_policy();
        let window = now.timestamp().max(0) as u64 / width;
        let end = i64::try_from((window + 1) * width).unwrap_or(i64::MAX);
        let reset_at = Utc.timestamp_opt(end, 0).single().unwrap_or(now);
        (
            self.key(spender.scope(), &spender.subject(), window),
            reset_at,
        )
    }

    fn points(&self, used: u64, reset_at: DateTime<Utc>) -> Points {
        let (limit, window_secs) = self.points_policy();
        Points {
            limit,
            used,
            window_secs,
            reset_at,
        }
    }

    /// Spends `cost` points of `spender`'s budget, reserved atomically before the operation runs; a
    /// refusal is taken back at once (it spends nothing). A cost of 0 only reads the budget.
    ///
    /// # Errors
    /// [`PointsRefused`] when the budget of this window cannot pay for it.
    pub async fn spend_points(
        &self,
        spender: &Spender,
        cost: u64,
        now: DateTime<Utc>,
    ) -> Result<Points, PointsRefused> {
        let (key, reset_at) = self.points_key(spender, now);
        if cost == 0 {
            return Ok(self.points_left(spender, now).await);
        }
        if cost > self.limits.points_per_window {
            let used = self.read_points(&key).await;
            return Err(PointsRefused::TooCostly {
                points: self.points(used.saturating_sub(self.leases.held(&key)), reset_at),
            });
        }
        if let Some(used) = self.leases.take(&key, cost) {
            return Ok(self.points(used, reset_at));
        }
        // One share at a time per budget in this process: the operations that find the lease short meanwhile
        // wait for it and spend from it.
        let _turn = self.leases.turn(&key).await;
        let limit = self.limits.points_per_window;
        // A share of the budget is added at once and spent here by the operations that follow; none while
        // the leases are full (a share given up at once would cost its spender the whole share).
        let share = if self.leases.room_for(&key, now) {
            limit / LEASE_SHARES
        } else {
            0
        };
        loop {
            if let Some(used) = self.leases.take(&key, cost) {
                return Ok(self.points(used, reset_at));
            }
            let need = cost.saturating_sub(self.leases.held(&key));
            let ask = need.max(share);
            let Some((mut added, mut total)) = self.add_points(spender, &key, ask).await else {
                return Ok(self.points(0, reset_at));
            };
            let mut granted = ask;
            if !added && ask > need && total.saturating_add(need) <= limit {
                // The share does not fit any more; what this operation needs may.
                let Some(answer) = self.add_points(spender, &key, need).await else {
                    return Ok(self.points(0, reset_at));
                };
                (added, total, granted) = (answer.0, answer.1, need);
            }
            if !added {
                // Refused without being added: nothing to take back, and no concurrent operation ever saw it.
                metrics::rate_limited(spender.scope());
                let points = self.points(total.saturating_sub(self.leases.held(&key)), reset_at);
                return Err(PointsRefused::Exhausted {
                    retry_after_seconds: points.reset_in(now),
                    points,
                });
            }
            if let Some(used) = self.leases.grant(&key, granted, total, cost, reset_at, now) {
                return Ok(self.points(used, reset_at));
            }
            // Operations that did not wait for the turn spent what was held meanwhile: add again.
        }
    }

    /// Adds `amount` to the counter `key` if it stays within the budget, in the shared counters or — while
    /// they fail — in this process's own: (added, the count after). `None` when nothing can count.
    async fn add_points(&self, spender: &Spender, key: &str, amount: u64) -> Option<(bool, u64)> {
        let ttl = self.limits.points_window + std::time::Duration::from_secs(1);
        let limit = self.limits.points_per_window;
        if self.health.try_shared() {
            // This process's own count holds every point it leased, and those it spent while the shared
            // counters failed: never more than theirs, unless they lost counts (a restart, a failover) or
            // missed an outage's spending. What does not fit it is refused whatever they would say.
            let own = self.own_points(key).await;
            if own.saturating_add(amount) > limit {
                return Some((false, own));
            }
            match self.counters.add_within(key, amount, limit, ttl).await {
                Ok(answer) => {
                    self.health.answered();
                    if answer.0 {
                        // What this process leased is counted in its own counters too: if the shared ones
                        // fail, its budget goes on from there instead of starting whole.
                        let _ = self
                            .points_fallback
                            .add_within(key, amount, u64::MAX, ttl)
                            .await;
                    }
                    return Some(answer);
                }
                Err(err) => self.health.failed(&err.0),
            }
        }
        metrics::limiter_fallback(spender.scope());
        match self
            .points_fallback
            .add_within(key, amount, limit, ttl)
            .await
        {
            Ok(answer) => Some(answer),
            Err(err) => {
                tracing::error!(error = %err, "limiter: no counters answer; not limiting");
                None
            }
        }
    }

    /// `spender`'s budget at `now`, spending nothing.
    pub async fn points_left(&self, spender: &Spender, now: DateTime<Utc>) -> Points {
        let (key, reset_at) = self.points_key(spender, now);
        let used = self.read_points(&key).await;
        // Points this process leased are counted there but not spent yet.
        self.points(used.saturating_sub(self.leases.held(&key)), reset_at)
    }

    /// The points counted under `key`: the higher of the shared count (unless the shared counters are
    /// failing) and this process's own, which is the higher only when they lost counts or missed an
    /// outage's spending — then it is the one [`Limiter::add_points`] judges.
    async fn read_points(&self, key: &str) -> u64 {
        let own = self.own_points(key).await;
        if self.health.degraded() {
            return own;
        }
        count_of(self.counters.as_ref(), key).await.max(own)
    }

    /// This process's own count under `key` (0 when it has none).
    async fn own_points(&self, key: &str) -> u64 {
        count_of(self.points_fallback.as_ref(), key).await
    }
}

/// The count under `key` in `counters` (0 when there is none or it cannot be read).
async fn count_of(counters: &dyn Counters, key: &str) -> u64 {
    let counts = counters.read(&[key.to_owned()]).await;
    counts.ok().and_then(|c| c.first().copied()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::adapters::cache::MemoryCache;
    use crate::adapters::cache::fakes::FailingCache;
    use crate::app::rate_limit::Limits;
    use crate::ports::Counters;

    fn limiter(counters: Arc<dyn Counters>) -> Limiter {
        limiter_of(counters, 100)
    }

    fn limiter_of(counters: Arc<dyn Counters>, points_per_window: u64) -> Limiter {
        Limiter::new(
            counters,
            Arc::new(MemoryCache::new(1000, 1 << 20)),
            "t",
            Limits {
                per_account: 1,
                per_client: 1,
                sign_ups_per_client: 1,
                edits_per_user: 1,
                creates_per_user: 1,
                reports_per_user: 1,
                window: Duration::from_secs(900),
                points_per_window,
                points_window: Duration::from_secs(60),
            },
        )
    }

    /// `seconds` into a points window (window 30 000 000 of 60 s).
    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(30_000_000 * 60 + seconds, 0).unwrap()
    }

    #[tokio::test]
    async fn costs_are_spent_until_the_budget_is_gone_and_a_refusal_spends_nothing() {
        let limiter = limiter(Arc::new(MemoryCache::new(100, 1 << 20)));
        let who = Spender::Client("10.0.0.1".into());
        let spent = limiter.spend_points(&who, 40, at(10)).await.unwrap();
        assert_eq!((spent.used, spent.remaining()), (40, 60));
        assert_eq!(spent.reset_in(at(10)), 50);
        limiter.spend_points(&who, 60, at(20)).await.unwrap();
        match limiter.spend_points(&who, 1, at(45)).await {
            Err(PointsRefused::Exhausted {
                points,
                retry_after_seconds,
            }) => {
                assert_eq!(retry_after_seconds, 15);
                assert_eq!(points.remaining(), 0);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(limiter.points_left(&who, at(46)).await.used, 100);
        // The next window starts whole; a member's budget is not the client's.
        assert_eq!(limiter.points_left(&who, at(60)).await.remaining(), 100);
        let member = Spender::Member(UserId(1));
        assert_eq!(
            limiter.spend_points(&member, 7, at(50)).await.unwrap().used,
            7
        );
    }

    use crate::adapters::cache::fakes::RefusingCounters as Counted;

    #[tokio::test]
    async fn a_share_is_leased_and_spent_here_with_the_numbers_of_no_lease() {
        let counters = Arc::new(Counted::default());
        // 10 000 points: shares of 100.
        let here = limiter_of(counters.clone(), 10_000);
        let who = Spender::Member(UserId(5));
        for i in 1..=14 {
            let spent = here.spend_points(&who, 7, at(1)).await.unwrap();
            assert_eq!(spent.used, 7 * i, "exact in one process");
        }
        assert_eq!(
            counters
                .additions
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(here.points_left(&who, at(2)).await.used, 98);
        // The 15th needs 7 with 2 held: one more share.
        assert_eq!(here.spend_points(&who, 7, at(3)).await.unwrap().used, 105);
        assert_eq!(
            counters
                .additions
                .load(std::sync::atomic::Ordering::Relaxed),
            2
        );
        // Another process sees this one's shares as spent: never looser, at worst a share stricter.
        let there = limiter_of(counters.clone(), 10_000);
        assert_eq!(there.points_left(&who, at(4)).await.used, 200);
        assert_eq!(there.spend_points(&who, 1, at(4)).await.unwrap().used, 201);
    }

    #[tokio::test]
    async fn the_last_points_of_a_window_are_spent_exactly_with_shares() {
        let counters = Arc::new(Counted::default());
        // 1 000 points: shares of 10, an operation of 9.
        let limiter = limiter_of(counters.clone(), 1_000);
        let who = Spender::Client("10.0.0.9".into());
        let mut ran = 0;
        let refused = loop {
            match limiter.spend_points(&who, 9, at(5)).await {
                Ok(points) => {
                    ran += 1;
                    assert_eq!(points.used, 9 * ran);
                }
                Err(refused) => break refused,
            }
        };
        assert_eq!(ran, 111, "every whole 9 of 1 000 points ran");
        match refused {
            PointsRefused::Exhausted { points, .. } => assert_eq!(points.remaining(), 1),
            other => panic!("{other:?}"),
        }
        // A cheaper operation still fits the last point.
        assert_eq!(
            limiter.spend_points(&who, 1, at(6)).await.unwrap().used,
            1_000
        );
    }

    #[tokio::test]
    async fn concurrent_operations_share_one_share_and_spend_the_budget_whole() {
        let counters = Arc::new(Counted::default());
        // 2 000 points: shares of 20; 200 operations of 12 at once.
        let limiter = limiter_of(counters.clone(), 2_000);
        let who = Spender::Client("10.0.0.7".into());
        let spends = (0..200).map(|_| limiter.spend_points(&who, 12, at(7)));
        let answers = futures::future::join_all(spends).await;
        let ran = answers.iter().filter(|a| a.is_ok()).count();
        assert_eq!(
            ran, 166,
            "every whole 12 of 2 000 points ran, none refused early"
        );
        let mut used: Vec<u64> = answers.iter().flatten().map(|p| p.used).collect();
        used.sort_unstable();
        used.dedup();
        assert_eq!(used.len(), 166, "each operation reports its own count");
        // One share at a time: about one addition per share (and one per refusal), not one per operation
        // that found the lease short at once.
        let additions = counters
            .additions
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            additions <= 2_000 / 20 + 10 + (200 - 166),
            "{additions} additions"
        );
    }

    #[tokio::test]
    async fn more_than_a_whole_window_is_refused_without_spending() {
        let limiter = limiter(Arc::new(MemoryCache::new(100, 1 << 20)));
        let who = Spender::Member(UserId(3));
        assert!(matches!(
            limiter.spend_points(&who, 101, at(0)).await,
            Err(PointsRefused::TooCostly { .. })
        ));
        assert_eq!(limiter.points_left(&who, at(0)).await.used, 0);
        assert_eq!(limiter.spend_points(&who, 0, at(0)).await.unwrap().used, 0);
    }

    /// When the shared counters fail, a budget goes on in the process from what the process leased, not
    /// from a whole budget.
    #[tokio::test]
    async fn an_outage_of_the_shared_counters_leaves_the_budget_spent() {
        let counters = Arc::new(Counted::default());
        // 1 000 points: shares of 10.
        let limiter = limiter_of(counters.clone(), 1_000);
        let who = Spender::Member(UserId(8));
        for _ in 0..9 {
            limiter.spend_points(&who, 100, at(1)).await.unwrap();
        }
        counters.refuse(true);
        assert_eq!(limiter.points_left(&who, at(2)).await.used, 900);
        limiter.spend_points(&who, 100, at(2)).await.unwrap();
        assert!(matches!(
            limiter.spend_points(&who, 1, at(3)).await,
            Err(PointsRefused::Exhausted { .. })
        ));
    }

    /// Shared counters that come back empty (a Redis restarted without persistence) give no new budget
    /// through a process that spent it: its own count of what it leased is judged too.
    #[tokio::test]
    async fn shared_counters_restarted_empty_give_no_new_budget() {
        let counters = Arc::new(Counted::default());
        let limiter = limiter_of(counters.clone(), 1_000);
        let who = Spender::Client("10.0.0.5".into());
        for _ in 0..10 {
            limiter.spend_points(&who, 100, at(1)).await.unwrap();
        }
        counters.restart_empty();
        assert_eq!(limiter.points_left(&who, at(2)).await.used, 1_000);
        assert!(matches!(
            limiter.spend_points(&who, 100, at(2)).await,
            Err(PointsRefused::Exhausted { .. })
        ));
        // Another spender's budget is whole.
        let other = Spender::Client("10.0.0.6".into());
        limiter.spend_points(&other, 100, at(2)).await.unwrap();
    }

    /// Budgets counted apart from the other limits: a flood of anonymous addresses fills the points' own
    /// bounded counters, never the ones holding password guesses.
    #[tokio::test]
    async fn points_counted_apart_stay_out_of_the_other_limits_counters() {
        let (guesses, points) = (
            Arc::new(MemoryCache::new(100, 0)),
            Arc::new(MemoryCache::new(100, 0)),
        );
        let limiter = Limiter::new(
            Arc::new(Counted::default()),
            guesses.clone(),
            "t",
            limiter_of(Arc::new(FailingCache), 1_000).limits,
        )
        .points_counted_apart(points.clone());
        let who = Spender::Client("10.0.0.8".into());
        limiter.spend_points(&who, 100, at(1)).await.unwrap();
        let key = [limiter.points_key(&who, at(1)).0];
        assert_eq!(points.read(&key).await.unwrap(), vec![100]);
        assert_eq!(guesses.read(&key).await.unwrap(), vec![0]);
    }

    #[tokio::test]
    async fn failing_shared_counters_fall_back_to_this_process() {
        let limiter = limiter(Arc::new(FailingCache));
        let who = Spender::Client("c".into());
        limiter.spend_points(&who, 90, at(0)).await.unwrap();
        assert_eq!(limiter.points_left(&who, at(1)).await.used, 90);
        assert!(matches!(
            limiter.spend_points(&who, 20, at(2)).await,
            Err(PointsRefused::Exhausted { .. })
        ));
    }
}
