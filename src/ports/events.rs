//! The after-commit fan-out of board events to every process (see `domain::events`).

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::domain::BoardEvent;

#[derive(Debug, Clone, thiserror::Error)]
#[error("events: {0}")]
pub struct EventsError(pub String);

/// What an [`Events`] feed delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A write committed somewhere (this process or another).
    Event(BoardEvent),
    /// The feed's connection dropped: events published meanwhile are missed.
    Lost,
    /// The feed is connected again; events flow from here on.
    Live,
}

/// Publishes events after their write committed, and delivers every process's events to this process.
/// Publishing never fails a write: the caller logs and counts an error.
#[async_trait]
pub trait Events: Send + Sync {
    /// One round trip (none in process).
    async fn publish(&self, event: &BoardEvent) -> Result<(), EventsError>;
    /// Every event published from now on, by any process sharing the channel. A receiver that falls
    /// further behind than the feed's buffer gets `Lagged` and misses the oldest.
    fn subscribe(&self) -> broadcast::Receiver<Notice>;
    /// Whether events are being received right now.
    fn live(&self) -> bool;
    /// `"redis"` or `"memory"`, for logs and readiness output.
    fn kind(&self) -> &'static str;
}
