//! Announcing committed writes to subscribers, on every process.

use super::BoardService;
use crate::domain::BoardEvent;
use crate::ports::Events;
use crate::telemetry::metrics;

/// Publishes `event` after its write committed (and its cache keys were deleted, so a subscriber that reads
/// on hearing it reads the new state). A failure is logged and counted, never the writer's error: the write
/// stands; subscribers miss this one event (sockets of a changed account still meet their periodic check).
/// While spans are exported the event carries the writer's `traceparent` (docs/traces.md).
pub(crate) async fn announce(events: &dyn Events, event: BoardEvent) {
    let event = event.caused_by(crate::request::cause());
    match events.publish(&event).await {
        Ok(()) => metrics::event_published(event.kind.as_str(), "ok"),
        Err(err) => {
            tracing::warn!(error = %err, kind = event.kind.as_str(), ids = ?event.ids, "could not publish an event");
            metrics::event_published(event.kind.as_str(), "error");
        }
    }
}

impl BoardService {
    /// [`announce`] through the board's feed.
    pub(crate) async fn announce(&self, event: BoardEvent) {
        announce(self.events.as_ref(), event).await;
    }
}
