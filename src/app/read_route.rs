//! Where a read may go: the primary, or the read replica (`database_read_url`).
//!
//! The request handler decides once per request and runs the request inside [`scope`]: mutations read the
//! primary; so does a viewer who wrote within `read_your_writes_secs` (a short-lived key in the shared
//! cache, see `BoardService::record_write`), on whichever
//! `board` process they wrote, so they read their own writes although the replica lags. Everyone else's
//! lists, counts and vote lookups may go to the replica. Cache fills always read the primary, so a lagging
//! replica never puts an old row into the shared cache. Outside a scope (CSV export, the CLI) reads use the
//! primary.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

tokio::task_local! {
    static ROUTE: Arc<AtomicBool>;
}

/// The route of one request: primary until [`allow_replica`] says otherwise.
pub fn new_route() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

/// Runs `future` (a request, with its DataLoader batches) under `route`.
pub async fn scope<F: Future>(route: Arc<AtomicBool>, future: F) -> F::Output {
    ROUTE.scope(route, future).await
}

/// Lets the reads of the current request go to the replica (a no-op outside a [`scope`]).
pub fn allow_replica(allowed: bool) {
    let _ = ROUTE.try_with(|r| r.store(allowed, Ordering::Relaxed));
}

/// May the current read go to the replica?
pub fn replica_allowed() -> bool {
    ROUTE
        .try_with(|r| r.load(Ordering::Relaxed))
        .unwrap_or(false)
}
