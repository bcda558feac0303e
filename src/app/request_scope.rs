//! One request's task-local context, entered once: its round-trip counters ([`crate::telemetry::roundtrips`]),
//! where its reads may go ([`super::read_route`]) and when it began, for the near cache's sync
//! ([`super::near_cache`]). Transports (HTTP, WebSocket) run each operation inside [`RequestScope::run`] and
//! never touch the three task-locals themselves.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use super::{near_cache, read_route};
use crate::telemetry::roundtrips::{self, RoundTrips};

pub struct RequestScope {
    started: Instant,
    trips: Arc<RoundTrips>,
    route: Arc<AtomicBool>,
}

impl RequestScope {
    /// A request beginning now: reads go to the primary until [`read_route::allow_replica`] says otherwise
    /// inside [`RequestScope::run`].
    pub fn begin() -> Self {
        Self {
            started: Instant::now(),
            trips: Arc::new(RoundTrips::default()),
            route: read_route::new_route(),
        }
    }

    /// When the request began.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The database and cache round trips counted so far.
    pub fn round_trips(&self) -> &RoundTrips {
        &self.trips
    }

    /// Runs `future` (part of this request, with its DataLoader batches) inside the request's scope. It may
    /// be entered more than once; every entry shares the same counters and route.
    pub async fn run<F: Future>(&self, future: F) -> F::Output {
        roundtrips::scope(
            Arc::clone(&self.trips),
            read_route::scope(
                Arc::clone(&self.route),
                near_cache::scope(self.started, future),
            ),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_scope_carries_counters_and_route_into_the_future() {
        let scope = RequestScope::begin();
        let inside = scope
            .run(async {
                roundtrips::count_cache();
                let _trip = roundtrips::count_db();
                read_route::allow_replica(true);
                read_route::replica_allowed()
            })
            .await;
        assert!(inside, "the route set inside is seen inside");
        assert_eq!(scope.round_trips().db(), 1);
        assert_eq!(scope.round_trips().cache(), 1);
        // A second entry shares the same counters and route.
        let again = scope.run(async { read_route::replica_allowed() }).await;
        assert!(again);
        assert!(
            !read_route::replica_allowed(),
            "nothing leaks outside the scope"
        );
    }
}
