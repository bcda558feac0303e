//! Database and cache round trips per request: a request-scoped counter that the adapters feed.
//!
//! The request handler runs the operation inside [`scope`]; per-request DataLoaders capture the same counters
//! (with [`current`]) and re-enter the scope in their spawned batch tasks, so every round trip is counted once.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct RoundTrips {
    db: AtomicU64,
    cache: AtomicU64,
}

impl RoundTrips {
    pub fn db(&self) -> u64 {
        self.db.load(Ordering::Relaxed)
    }

    pub fn cache(&self) -> u64 {
        self.cache.load(Ordering::Relaxed)
    }
}

tokio::task_local! {
    static CURRENT: Arc<RoundTrips>;
}

/// Runs `future` with `counters` as the current request's counters.
pub async fn scope<F: Future>(counters: Arc<RoundTrips>, future: F) -> F::Output {
    CURRENT.scope(counters, future).await
}

/// The counters of the request this task serves, if any.
pub fn current() -> Option<Arc<RoundTrips>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// Counts one database round trip for the current request (a no-op outside one); the returned guard
/// records the round trip's duration when dropped.
#[must_use = "bind the guard (`let _trip = count_db();`) so that it measures the round trip"]
pub fn count_db() -> DbTrip {
    let _ = CURRENT.try_with(|c| c.db.fetch_add(1, Ordering::Relaxed));
    DbTrip(std::time::Instant::now())
}

/// Measures one database round trip.
pub struct DbTrip(std::time::Instant);

/// A round trip slower than this is logged (with the request's id, from its span).
const SLOW_ROUND_TRIP: std::time::Duration = std::time::Duration::from_millis(200);

impl Drop for DbTrip {
    fn drop(&mut self) {
        let elapsed = self.0.elapsed();
        super::metrics::db_query(elapsed);
        if elapsed >= SLOW_ROUND_TRIP {
            tracing::warn!(
                elapsed_ms = elapsed.as_secs_f64() * 1000.0,
                "slow database round trip"
            );
        }
    }
}

/// Counts one cache round trip for the current request (a no-op outside one).
pub fn count_cache() {
    let _ = CURRENT.try_with(|c| c.cache.fetch_add(1, Ordering::Relaxed));
}
