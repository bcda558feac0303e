//! Announcing committed writes to subscribers, on every process.

use std::sync::Arc;

use super::BoardService;
use crate::domain::BoardEvent;
use crate::ports::Events;
use crate::telemetry::metrics;

impl BoardService {
    /// The same service, announcing its committed writes on `events`.
    pub fn with_events(self, events: Arc<dyn Events>) -> Self {
        Self {
            events: Some(events),
            ..self
        }
    }

    /// Publishes `event` after its write committed (and its cache keys were deleted, so a subscriber that
    /// reads on hearing it reads the new state). A failure is logged and counted, never the writer's error:
    /// the write stands; subscribers miss this one event.
    pub(super) async fn announce(&self, event: BoardEvent) {
        let Some(events) = &self.events else { return };
        match events.publish(&event).await {
            Ok(()) => metrics::event_published(event.kind.as_str(), "ok"),
            Err(err) => {
                tracing::warn!(error = %err, kind = event.kind.as_str(), post = %event.ids.post, "could not publish a board event");
                metrics::event_published(event.kind.as_str(), "error");
            }
        }
    }
}
