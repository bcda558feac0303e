//! Events across processes: Redis pub/sub through fred. Publishing uses the cache's pool; receiving uses
//! the process's one Redis feed, shared by every GraphQL subscriber of the process. After an outage of the
//! feed receivers hear `Lost` then `Live` (events published in between are missed).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{Error as FredError, Pool, PubsubInterface};
use tokio::sync::broadcast;

use super::EVENT_BACKLOG;
use crate::adapters::redis_feed::{Listener, RedisFeed};
use crate::domain::BoardEvent;
use crate::ports::{Events, EventsError, Notice};
use crate::request::count_redis;

pub struct RedisEvents {
    publisher: Pool,
    channel: String,
    timeout: Duration,
    feed: broadcast::Sender<Notice>,
    live: Arc<AtomicBool>,
}

fn events_error(err: FredError) -> EventsError {
    EventsError(err.to_string())
}

impl RedisEvents {
    /// Publishes on `channel` through `publisher`, each publish bounded by `timeout`; hears every process's
    /// events through `feed`.
    pub fn new(publisher: Pool, channel: &str, timeout: Duration, feed: &mut RedisFeed) -> Self {
        let (out, _) = broadcast::channel(EVENT_BACKLOG);
        feed.listen(&[channel.to_owned()], Arc::new(Heard { out: out.clone() }));
        Self {
            publisher,
            channel: channel.to_owned(),
            timeout,
            feed: out,
            live: feed.live(),
        }
    }
}

/// The feed's listener for the events channel.
struct Heard {
    out: broadcast::Sender<Notice>,
}

impl Listener for Heard {
    fn message(&self, _: &str, text: &str) {
        match serde_json::from_str::<BoardEvent>(text) {
            Ok(event) => {
                let _ = self.out.send(Notice::Event(event));
            }
            Err(err) => tracing::warn!(error = %err, "ignored an unreadable board event"),
        }
    }

    fn lost(&self) {
        let _ = self.out.send(Notice::Lost);
    }

    fn live(&self) {
        let _ = self.out.send(Notice::Live);
    }
}

#[async_trait]
impl Events for RedisEvents {
    async fn publish(&self, event: &BoardEvent) -> Result<(), EventsError> {
        let text = serde_json::to_string(event).map_err(|e| EventsError(e.to_string()))?;
        let trip = count_redis();
        let publish = self
            .publisher
            .next()
            .publish::<i64, _, _>(self.channel.as_str(), text);
        let published = tokio::time::timeout(self.timeout, publish).await;
        trip.end("PUBLISH", !matches!(published, Ok(Ok(_))));
        match published {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(events_error(err)),
            Err(_) => Err(EventsError(format!(
                "redis did not take the event within {:?}",
                self.timeout
            ))),
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.feed.subscribe()
    }

    fn live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}
