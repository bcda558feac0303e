//! Events across processes: Redis pub/sub through fred. Publishing uses the cache's pool; receiving uses
//! one subscriber connection per process (a subscribed connection can do nothing else), shared by every
//! GraphQL subscriber of the process. fred reconnects on its own; after a reconnection the channel is
//! subscribed again, and receivers hear `Lost` then `Live` (events published in between are missed).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{
    Builder, Client, ClientLike, Config as FredConfig, Error as FredError, EventInterface, Pool,
    PubsubInterface, ReconnectPolicy,
};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::EVENT_BACKLOG;
use crate::config::redact_url;
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
    /// Follows `channel` on a connection of its own to `url`; publishes through `publisher`, each publish
    /// bounded by `timeout`. Fails when Redis cannot be reached at start-up; later outages are survived.
    pub async fn connect(
        url: &str,
        publisher: Pool,
        channel: &str,
        timeout: Duration,
    ) -> Result<Self, EventsError> {
        let config = FredConfig::from_url(url)
            .map_err(|e| EventsError(format!("bad REDIS_URL {}: {e}", redact_url(url))))?;
        let subscriber = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(2);
                c.internal_command_timeout = Duration::from_secs(2);
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build()
            .map_err(events_error)?;
        let messages = subscriber.message_rx();
        let mut reconnects = subscriber.reconnect_rx();
        let mut errors = subscriber.error_rx();
        subscriber.init().await.map_err(events_error)?;
        let (feed, _) = broadcast::channel(EVENT_BACKLOG);
        let live = Arc::new(AtomicBool::new(false));
        subscribe(&subscriber, channel, &feed, &live).await;
        // The connection just made announces itself as a reconnection: not one to act on.
        while reconnects.try_recv().is_ok() {}
        while errors.try_recv().is_ok() {}
        tokio::spawn(follow(
            subscriber,
            Followed {
                messages,
                reconnects,
                errors,
            },
            channel.to_owned(),
            feed.clone(),
            Arc::clone(&live),
        ));
        Ok(Self {
            publisher,
            channel: channel.to_owned(),
            timeout,
            feed,
            live,
        })
    }
}

struct Followed {
    messages: broadcast::Receiver<fred::types::Message>,
    reconnects: broadcast::Receiver<fred::types::config::Server>,
    errors: broadcast::Receiver<(FredError, Option<fred::types::config::Server>)>,
}

/// Subscribes to `channel`, retrying every second until it works, then announces `Live`.
async fn subscribe(
    client: &Client,
    channel: &str,
    feed: &broadcast::Sender<Notice>,
    live: &AtomicBool,
) {
    loop {
        match tokio::time::timeout(Duration::from_secs(2), client.subscribe(channel)).await {
            Ok(Ok(())) => {
                live.store(true, Ordering::Release);
                let _ = feed.send(Notice::Live);
                return;
            }
            Ok(Err(err)) => tracing::warn!(error = %err, "could not follow board events; retrying"),
            Err(_) => tracing::warn!("could not follow board events in time; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn follow(
    client: Client,
    mut followed: Followed,
    channel: String,
    feed: broadcast::Sender<Notice>,
    live: Arc<AtomicBool>,
) {
    let lost = || {
        if live.swap(false, Ordering::AcqRel) {
            tracing::warn!("board events lost: the Redis subscriber connection dropped");
        }
        let _ = feed.send(Notice::Lost);
    };
    loop {
        tokio::select! {
            message = followed.messages.recv() => match message {
                Ok(message) => {
                    let Some(text) = message.value.as_str() else { continue };
                    match serde_json::from_str::<BoardEvent>(&text) {
                        Ok(event) => {
                            let _ = feed.send(Notice::Event(event));
                        }
                        Err(err) => tracing::warn!(error = %err, "ignored an unreadable board event"),
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "board events missed: the subscriber fell behind");
                    let _ = feed.send(Notice::Lost);
                    let _ = feed.send(Notice::Live);
                }
                Err(RecvError::Closed) => break,
            },
            error = followed.errors.recv() => {
                if matches!(error, Err(RecvError::Closed)) {
                    break;
                }
                lost();
            }
            reconnect = followed.reconnects.recv() => {
                if matches!(reconnect, Err(RecvError::Closed)) {
                    break;
                }
                lost();
                subscribe(&client, &channel, &feed, &live).await;
                tracing::info!("board events followed again");
            }
        }
    }
    lost();
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
