//! Announcing committed writes to subscribers, on every process.

use super::BoardService;
use crate::domain::BoardEvent;
use crate::telemetry::metrics;

impl BoardService {
    /// Publishes `event` after its write committed (and its cache keys were deleted, so a subscriber that
    /// reads on hearing it reads the new state). A failure is logged and counted, never the writer's error:
    /// the write stands; subscribers miss this one event.
    pub(crate) async fn announce(&self, event: BoardEvent) {
        match self.events.publish(&event).await {
            Ok(()) => metrics::event_published(event.kind.as_str(), "ok"),
            Err(err) => {
                tracing::warn!(error = %err, kind = event.kind.as_str(), post = event.ids.post.map(|p| p.0), "could not publish a board event");
                metrics::event_published(event.kind.as_str(), "error");
            }
        }
    }
}
