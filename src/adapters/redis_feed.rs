//! The one Redis feed of a process: a single subscriber connection following every pub/sub channel board
//! listens to (cache invalidations, this process's sync marks, board events) and handing each message to
//! the listener of its channel. Channels, order and outages: docs/read-cache.md#the-feed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fred::prelude::{
    Builder, Client, ClientLike, Config as FredConfig, Error as FredError, EventInterface,
    PubsubInterface, ReconnectPolicy,
};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::config::redact_url;

/// What one user of the feed hears. Called on the feed's task: each call must return at once.
pub trait Listener: Send + Sync + 'static {
    /// A message arrived on one of the listener's channels.
    fn message(&self, channel: &str, text: &str);
    /// Messages may have been missed (the connection dropped, or the feed fell behind).
    fn lost(&self);
    /// Every channel is followed again; messages flow from here on.
    fn live(&self);
}

/// Which listener hears which channel.
#[derive(Default, Clone)]
struct Routes {
    by_channel: HashMap<String, Arc<dyn Listener>>,
    listeners: Vec<Arc<dyn Listener>>,
    /// Shard channels (Redis Cluster's `SSUBSCRIBE`), all of one hash slot.
    sharded: Vec<String>,
}

impl Routes {
    fn add(&mut self, channels: &[String], listener: Arc<dyn Listener>) {
        for channel in channels {
            self.by_channel
                .insert(channel.clone(), Arc::clone(&listener));
        }
        self.listeners.push(listener);
    }

    /// The plain channels (`SUBSCRIBE`).
    fn channels(&self) -> Vec<String> {
        let mut channels: Vec<String> = self
            .by_channel
            .keys()
            .filter(|c| !self.sharded.contains(c))
            .cloned()
            .collect();
        channels.sort();
        channels
    }

    fn deliver(&self, channel: &str, text: &str) {
        if let Some(listener) = self.by_channel.get(channel) {
            listener.message(channel, text);
        }
    }

    fn lost(&self) {
        self.listeners.iter().for_each(|l| l.lost());
    }

    fn live(&self) {
        self.listeners.iter().for_each(|l| l.live());
    }
}

/// The feed before it starts: adapters add their channels and listeners, then [`RedisFeed::start`] subscribes
/// to all of them on one connection.
pub struct RedisFeed {
    client: Client,
    routes: Routes,
    live: Arc<AtomicBool>,
}

impl RedisFeed {
    /// A feed to `url`; nothing is connected before [`RedisFeed::start`].
    pub fn new(url: &str) -> Result<Self, String> {
        let config = FredConfig::from_url(url)
            .map_err(|e| format!("bad REDIS_URL {}: {e}", redact_url(url)))?;
        let client = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(2);
                c.internal_command_timeout = Duration::from_secs(2);
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            routes: Routes::default(),
            live: Arc::new(AtomicBool::new(false)),
        })
    }

    /// `listener` hears `channels`, and every outage of the feed.
    pub fn listen(&mut self, channels: &[String], listener: Arc<dyn Listener>) {
        self.routes.add(channels, listener);
    }

    /// As [`RedisFeed::listen`], for shard channels of Redis Cluster (`SSUBSCRIBE`): the messages of one
    /// shard channel are published and delivered by one shard, in order. All of them must share one hash
    /// slot (a hash tag), so that one connection delivers them all in the order they were published.
    pub fn listen_sharded(&mut self, channels: &[String], listener: Arc<dyn Listener>) {
        self.routes.sharded.extend(channels.iter().cloned());
        self.routes.add(channels, listener);
    }

    /// Whether every channel is followed right now (shared with the adapters that use the feed).
    pub fn live(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.live)
    }

    /// Connects, subscribes to every channel (so the first request already finds the feed live) and follows
    /// them on a task of its own. Fails when Redis cannot be reached now; later outages are survived.
    pub async fn start(self) -> Result<(), String> {
        let Self {
            client,
            routes,
            live,
        } = self;
        let mut events = Events {
            messages: client.message_rx(),
            reconnects: client.reconnect_rx(),
            errors: client.error_rx(),
        };
        client.init().await.map_err(|e| e.to_string())?;
        subscribe(&client, &routes, &live).await;
        // The connection just made announces itself as a reconnection: not one to act on.
        while events.reconnects.try_recv().is_ok() {}
        while events.errors.try_recv().is_ok() {}
        tokio::spawn(follow(client, events, routes, live));
        Ok(())
    }
}

/// The subscriber connection's notifications.
struct Events {
    messages: broadcast::Receiver<fred::types::Message>,
    reconnects: broadcast::Receiver<fred::types::config::Server>,
    errors: broadcast::Receiver<(FredError, Option<fred::types::config::Server>)>,
}

/// Marks the feed lost (logging the first loss of an outage) and tells every listener.
fn lose(routes: &Routes, live: &AtomicBool, why: &str) {
    if live.swap(false, Ordering::AcqRel) {
        tracing::warn!(why, "the Redis feed lost messages; following it again");
    }
    routes.lost();
}

async fn follow(client: Client, mut events: Events, routes: Routes, live: Arc<AtomicBool>) {
    loop {
        tokio::select! {
            message = events.messages.recv() => match message {
                Ok(message) => {
                    if let Some(text) = message.value.as_str() {
                        routes.deliver(&message.channel, &text);
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the Redis feed fell behind");
                    lose(&routes, &live, "fell behind");
                    live.store(true, Ordering::Release);
                    routes.live();
                }
                Err(RecvError::Closed) => break,
            },
            error = events.errors.recv() => {
                if matches!(error, Err(RecvError::Closed)) {
                    break;
                }
                lose(&routes, &live, "connection error");
            }
            reconnect = events.reconnects.recv() => {
                if matches!(reconnect, Err(RecvError::Closed)) {
                    break;
                }
                lose(&routes, &live, "reconnected");
                subscribe(&client, &routes, &live).await;
                tracing::info!("the Redis feed is followed again");
            }
        }
    }
    lose(&routes, &live, "closed");
}

/// Subscribes to every channel, retrying every second, then tells the listeners the feed is live.
async fn subscribe(client: &Client, routes: &Routes, live: &AtomicBool) {
    let channels = routes.channels();
    let sharded = routes.sharded.clone();
    let both = || async {
        if !channels.is_empty() {
            client.subscribe(channels.clone()).await?;
        }
        if !sharded.is_empty() {
            client.ssubscribe(sharded.clone()).await?;
        }
        Ok::<(), FredError>(())
    };
    loop {
        match tokio::time::timeout(Duration::from_secs(2), both()).await {
            Ok(Ok(())) => {
                live.store(true, Ordering::Release);
                routes.live();
                return;
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "could not follow the Redis feed; retrying")
            }
            Err(_) => tracing::warn!("could not follow the Redis feed in time; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Heard(Mutex<Vec<String>>);

    impl Listener for Heard {
        fn message(&self, channel: &str, text: &str) {
            self.0.lock().unwrap().push(format!("{channel}={text}"));
        }
        fn lost(&self) {
            self.0.lock().unwrap().push("lost".into());
        }
        fn live(&self) {
            self.0.lock().unwrap().push("live".into());
        }
    }

    fn two_listeners() -> (Routes, Arc<Heard>, Arc<Heard>) {
        let (cache, events) = (Arc::new(Heard::default()), Arc::new(Heard::default()));
        let mut routes = Routes::default();
        routes.add(&["inv".into(), "inv:mark:1".into()], cache.clone());
        routes.add(&["events".into()], events.clone());
        (routes, cache, events)
    }

    #[test]
    fn each_message_reaches_only_the_listener_of_its_channel() {
        let (routes, cache, events) = two_listeners();
        routes.deliver("inv", "post:1");
        routes.deliver("inv:mark:1", "7");
        routes.deliver("events", "{}");
        routes.deliver("somebody else's", "x");
        assert_eq!(*cache.0.lock().unwrap(), ["inv=post:1", "inv:mark:1=7"]);
        assert_eq!(*events.0.lock().unwrap(), ["events={}"]);
    }

    #[test]
    fn one_subscription_covers_every_listeners_channels() {
        let (routes, _, _) = two_listeners();
        assert_eq!(routes.channels(), ["events", "inv", "inv:mark:1"]);
    }

    #[test]
    fn shard_channels_are_subscribed_apart_and_delivered_alike() {
        let (cache, events) = (Arc::new(Heard::default()), Arc::new(Heard::default()));
        let mut routes = Routes::default();
        routes
            .sharded
            .extend(["{inv}".to_owned(), "{inv}:mark:1".to_owned()]);
        routes.add(&["{inv}".into(), "{inv}:mark:1".into()], cache.clone());
        routes.add(&["events".into()], events.clone());
        assert_eq!(routes.channels(), ["events"]);
        routes.deliver("{inv}", "post:1");
        routes.deliver("{inv}:mark:1", "3");
        assert_eq!(*cache.0.lock().unwrap(), ["{inv}=post:1", "{inv}:mark:1=3"]);
    }

    #[test]
    fn an_outage_is_told_to_every_listener() {
        let (routes, cache, events) = two_listeners();
        let live = AtomicBool::new(true);
        lose(&routes, &live, "test");
        lose(&routes, &live, "test");
        assert!(!live.load(Ordering::Acquire));
        routes.live();
        assert_eq!(*cache.0.lock().unwrap(), ["lost", "lost", "live"]);
        assert_eq!(*events.0.lock().unwrap(), ["lost", "lost", "live"]);
    }
}
