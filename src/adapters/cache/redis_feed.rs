//! The Redis cache's subscriber loop: one connection of its own following the invalidation channel and this
//! process's mark channel, forwarding what it hears as `Invalidation`s. Why and in which order:
//! docs/read-cache.md#the-feed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fred::prelude::{Client, Error as FredError, PubsubInterface};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::ports::Invalidation;

/// The subscriber connection's notifications.
pub(super) struct Events {
    pub(super) messages: broadcast::Receiver<fred::types::Message>,
    pub(super) reconnects: broadcast::Receiver<fred::types::config::Server>,
    pub(super) errors: broadcast::Receiver<(FredError, Option<fred::types::config::Server>)>,
}

/// The channels the subscriber connection follows: the shared announcements and this process's marks.
#[derive(Clone)]
pub(super) struct Channels {
    pub(super) announcements: String,
    pub(super) marks: String,
}

/// Follows the invalidation channel on `client` (a connection of its own: a subscribed connection can do
/// nothing else) and forwards what it hears. After any connection error deletions may have been missed:
/// `Lost`, then, once subscribed again, `Live`.
pub(super) async fn follow(
    client: Client,
    mut events: Events,
    channels: Channels,
    out: broadcast::Sender<Invalidation>,
    live: Arc<AtomicBool>,
) {
    let lost = || {
        live.store(false, Ordering::Release);
        let _ = out.send(Invalidation::Lost);
    };
    loop {
        tokio::select! {
            message = events.messages.recv() => match message {
                Ok(message) => {
                    let Some(text) = message.value.as_str() else { continue };
                    if *message.channel == *channels.marks {
                        if let Ok(n) = text.parse() {
                            let _ = out.send(Invalidation::Marked(n));
                        }
                    } else {
                        let keys = text.split('\n').map(str::to_owned).collect();
                        let _ = out.send(Invalidation::Keys(keys));
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    lost();
                    live.store(true, Ordering::Release);
                    let _ = out.send(Invalidation::Live);
                }
                Err(RecvError::Closed) => break,
            },
            error = events.errors.recv() => {
                if matches!(error, Err(RecvError::Closed)) {
                    break;
                }
                lost();
            }
            reconnect = events.reconnects.recv() => {
                if matches!(reconnect, Err(RecvError::Closed)) {
                    break;
                }
                lost();
                subscribe(&client, &channels, &out, &live).await;
            }
        }
    }
    lost();
}

/// Subscribes to both channels, retrying every second, then announces `Live`.
pub(super) async fn subscribe(
    client: &Client,
    channels: &Channels,
    out: &broadcast::Sender<Invalidation>,
    live: &AtomicBool,
) {
    let both = vec![channels.announcements.clone(), channels.marks.clone()];
    loop {
        match tokio::time::timeout(Duration::from_secs(2), client.subscribe(both.clone())).await {
            Ok(Ok(())) => {
                live.store(true, Ordering::Release);
                let _ = out.send(Invalidation::Live);
                return;
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "could not follow cache invalidations; retrying")
            }
            Err(_) => tracing::warn!("could not follow cache invalidations in time; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
