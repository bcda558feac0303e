//! Events within one process: a tokio broadcast channel.

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::EVENT_BACKLOG;
use crate::domain::BoardEvent;
use crate::ports::{Events, EventsError, Notice};

pub struct MemoryEvents {
    feed: broadcast::Sender<Notice>,
}

impl MemoryEvents {
    pub fn new() -> Self {
        Self {
            feed: broadcast::channel(EVENT_BACKLOG).0,
        }
    }
}

impl Default for MemoryEvents {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Events for MemoryEvents {
    async fn publish(&self, event: &BoardEvent) -> Result<(), EventsError> {
        // No receiver is not an error: nobody listens.
        let _ = self.feed.send(Notice::Event(*event));
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.feed.subscribe()
    }

    fn live(&self) -> bool {
        true
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventKind, PostId};

    #[tokio::test]
    async fn every_receiver_hears_an_event_published_after_it_subscribed() {
        let events = MemoryEvents::new();
        let (mut a, mut b) = (events.subscribe(), events.subscribe());
        let event = BoardEvent::post(EventKind::PostEdited, PostId(1), None);
        events.publish(&event).await.unwrap();
        assert_eq!(a.recv().await.unwrap(), Notice::Event(event));
        assert_eq!(b.recv().await.unwrap(), Notice::Event(event));
    }
}
