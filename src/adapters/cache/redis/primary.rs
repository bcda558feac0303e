//! Which Redis primary cached values are read from. Redis replicates asynchronously: a deletion the primary
//! acknowledged can die with it, and the promoted replica then still holds the old value. So cached values
//! live in a namespace named after the primary's run id: a process that meets another primary (a failover,
//! a restart) reads and fills a new, empty namespace, and what the old primary's replica still holds is never
//! read again. On Redis Cluster the namespace is named after all primaries' run ids at once: a failover of
//! any shard starts the whole cache afresh. Between losing a connection and knowing which primaries it
//! reaches now, the cache is not read. The protocol: docs/read-cache.md#failover.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fred::prelude::{Client, ClientLike, ClusterInterface, EventInterface, Pool};
use fred::types::config::Server;
use fred::types::{ClusterHash, CustomCommand};
use tokio::sync::Notify;
use tokio::sync::broadcast::error::RecvError;

use crate::telemetry::metrics;

/// The namespace of this process's cached values, and whether it is known to be the current primary's.
pub(super) struct Primary {
    state: Mutex<State>,
    /// Wakes the verifier after a connection event.
    changed: Notify,
    /// Wakes the writers waiting for a verified primary ([`Primary::verified_by`]).
    settled: Notify,
}

struct State {
    /// Advanced by every connection event of any pool client: a read that began under another epoch may have
    /// been answered by another server.
    epoch: u64,
    /// The current primary's namespace; `None` until it is verified after a connection event.
    verified: Option<Arc<str>>,
    /// The namespace verified last (deletions go there while unverified: if the server is the same, they
    /// count; if not, they are made again once a namespace is verified: docs/read-cache.md#failover).
    last: Arc<str>,
    /// When it was last verified, or when it stopped being verified (the first event since, or the last
    /// connection made since).
    since: std::time::Instant,
}

/// A guard's bits that Redis counts; the bits above carry the epoch it was read in.
const GUARD_BITS: u32 = 40;
const GUARD_MASK: u64 = (1 << GUARD_BITS) - 1;

/// How often the verifier asks again while no primary answers.
const VERIFY_AGAIN: Duration = Duration::from_millis(200);

impl Primary {
    fn with(namespace: &str) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                epoch: 1,
                verified: Some(Arc::from(namespace)),
                last: Arc::from(namespace),
                since: std::time::Instant::now(),
            }),
            changed: Notify::new(),
            settled: Notify::new(),
        })
    }

    /// Follows the primary behind `pool` (all primaries on a cluster): its namespace now, then again after
    /// every connection event (and every change of the cluster's layout).
    pub(super) async fn follow(
        pool: &Pool,
        clustered: bool,
        timeout: Duration,
    ) -> Result<Arc<Self>, String> {
        let run_id = run_id(pool, clustered, timeout).await?;
        let primary = Self::with(&namespace(&run_id));
        for client in pool.clients() {
            let mut errors = client.error_rx();
            let mut reconnects = client.reconnect_rx();
            let mut layouts = client.cluster_change_rx();
            let watched = Arc::clone(&primary);
            tokio::spawn(async move {
                loop {
                    // (whether the channel closed, whether a connection was made)
                    let (closed, connected) = tokio::select! {
                        error = errors.recv() => (matches!(error, Err(RecvError::Closed)), false),
                        reconnect = reconnects.recv() => (matches!(reconnect, Err(RecvError::Closed)), true),
                        layout = layouts.recv() => (matches!(layout, Err(RecvError::Closed)), false),
                    };
                    if closed {
                        break;
                    }
                    watched.lost(connected);
                }
            });
        }
        tokio::spawn(verify(
            pool.clone(),
            Arc::clone(&primary),
            clustered,
            timeout,
        ));
        Ok(primary)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A connection dropped or came back: until the primary is verified again, nothing is read.
    /// `connected`: the event is a connection made (then a verification is about to come: writers wait
    /// for it again, see [`Primary::verified_by`]).
    fn lost(&self, connected: bool) {
        let mut state = self.state();
        state.epoch += 1;
        if state.verified.take().is_some() || connected {
            state.since = std::time::Instant::now();
        }
        drop(state);
        self.changed.notify_one();
    }

    /// The connection events seen so far (the epoch): any of them may have put another server behind
    /// the pool.
    pub(super) fn events(&self) -> u64 {
        self.state().epoch
    }

    /// The namespace to read in and the epoch of the read; `None` while the primary is not verified.
    pub(super) fn reading(&self) -> Option<(Arc<str>, u64)> {
        let state = self.state();
        state.verified.clone().map(|ns| (ns, state.epoch))
    }

    /// Whether a read begun at `epoch` was answered by the primary verified then.
    pub(super) fn still(&self, epoch: u64) -> bool {
        let state = self.state();
        state.epoch == epoch && state.verified.is_some()
    }

    /// Waits until a primary is verified, or `deadline`, or until the process has been unverified for
    /// `patience` (then it is not about to be: nothing is gained by waiting). Answers whether one is (then
    /// [`Primary::reading`] names its namespace).
    pub(super) async fn verified_by(
        &self,
        deadline: tokio::time::Instant,
        patience: Duration,
    ) -> bool {
        loop {
            // Listening before looking: a verification in between is not missed.
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            let since = {
                let state = self.state();
                if state.verified.is_some() {
                    return true;
                }
                state.since
            };
            let until = deadline.min(tokio::time::Instant::from_std(since + patience));
            if tokio::time::timeout_at(until, settled).await.is_err() {
                return self.reading().is_some();
            }
        }
    }

    /// Whether the primary was verified within the last `window` (and still is).
    pub(super) fn verified_within(&self, window: Duration) -> bool {
        let state = self.state();
        state.verified.is_some() && state.since.elapsed() < window
    }

    /// The namespace deletions go to: the verified one, or the last one verified.
    pub(super) fn deleting(&self) -> Arc<str> {
        Arc::clone(&self.state().last)
    }

    /// `guard`, read at `epoch`, as handed to the application.
    pub(super) fn seal(guard: u64, epoch: u64) -> u64 {
        ((epoch & (u64::MAX >> GUARD_BITS)) << GUARD_BITS) | (guard & GUARD_MASK)
    }

    /// The guard Redis holds, if `sealed` was read at `epoch` (a fill read under another epoch is refused).
    pub(super) fn unseal(sealed: u64, epoch: u64) -> Option<u64> {
        (sealed >> GUARD_BITS == epoch & (u64::MAX >> GUARD_BITS)).then_some(sealed & GUARD_MASK)
    }

    /// The primary answered `run_id` for a check begun at `epoch`: verified, unless a connection event came
    /// since. Answers whether it is verified now.
    fn verified(&self, epoch: u64, run_id: &str) -> bool {
        let mut state = self.state();
        if state.epoch != epoch {
            return false;
        }
        let namespace = namespace(run_id);
        if *state.last != *namespace {
            tracing::warn!(
                from = %state.last,
                to = %namespace,
                "cache: a new Redis primary (failover or restart); cached values start afresh in its namespace"
            );
            metrics::cache_primary_changed();
            state.last = Arc::from(namespace.as_str());
        }
        state.verified = Some(Arc::clone(&state.last));
        state.since = std::time::Instant::now();
        drop(state);
        self.settled.notify_waiters();
        true
    }
}

/// A namespace: the first 12 hex digits of a run id (48 bits: two primaries never share one in practice).
fn namespace(run_id: &str) -> String {
    run_id.chars().take(12).collect()
}

/// A key in `namespace` (none: the key itself).
pub(super) fn in_namespace(key: &str, namespace: &str) -> String {
    if namespace.is_empty() {
        key.to_owned()
    } else {
        format!("{key}@{namespace}")
    }
}

/// After each connection event, asks every pool client which server it reaches, until all answer the same
/// primary with no event in between.
async fn verify(pool: Pool, primary: Arc<Primary>, clustered: bool, timeout: Duration) {
    loop {
        primary.changed.notified().await;
        loop {
            let epoch = primary.state().epoch;
            match run_id(&pool, clustered, timeout).await {
                Ok(run_id) if primary.verified(epoch, &run_id) => break,
                Ok(_) => {}
                Err(err) => {
                    tracing::debug!(error = %err, "cache: the Redis primary is not verified yet")
                }
            }
            tokio::time::sleep(VERIFY_AGAIN).await;
        }
    }
}

/// The run id of the server every client of `pool` reaches (`INFO server`), or on a cluster the run ids of
/// all its primaries in one; an error if the clients differ.
async fn run_id(pool: &Pool, clustered: bool, timeout: Duration) -> Result<String, String> {
    let mut seen: Option<String> = None;
    for client in pool.clients() {
        let id = if clustered {
            primaries_id(client, timeout).await?
        } else {
            run_id_of(client, None, timeout).await?
        };
        match &seen {
            Some(other) if *other != id => {
                return Err(format!("clients reach different servers ({other}, {id})"));
            }
            _ => seen = Some(id),
        }
    }
    seen.ok_or_else(|| "the pool has no clients".to_owned())
}

/// The run ids of a cluster's primaries, as the client routes to them now, in one: the exclusive or of
/// their namespaces (the order of the primaries does not matter; any new primary changes it). When a
/// primary does not answer, the client's view of the cluster is refreshed for the next try.
async fn primaries_id(client: &Client, timeout: Duration) -> Result<String, String> {
    let Some(layout) = client.cached_cluster_state() else {
        let _ = client.sync_cluster().await;
        return Err("no cluster layout yet".to_owned());
    };
    let mut combined = 0u64;
    for server in layout.unique_primary_nodes() {
        let id = match run_id_of(client, Some(server), timeout).await {
            Ok(id) => id,
            Err(err) => {
                let _ = client.sync_cluster().await;
                return Err(err);
            }
        };
        combined ^= namespace_bits(&id)?;
    }
    Ok(format!("{combined:012x}"))
}

/// The 48 bits of a run id's namespace.
fn namespace_bits(run_id: &str) -> Result<u64, String> {
    u64::from_str_radix(&namespace(run_id), 16).map_err(|_| format!("run_id {run_id:?} is not hex"))
}

/// `INFO server`'s run id of the server the client reaches (on a cluster: of `server`).
async fn run_id_of(
    client: &Client,
    server: Option<Server>,
    timeout: Duration,
) -> Result<String, String> {
    let info = CustomCommand::new_static("INFO", ClusterHash::Random, false);
    let args = vec!["server".to_owned()];
    let answer = match server {
        None => tokio::time::timeout(timeout, client.custom::<String, _>(info, args)).await,
        Some(server) => {
            let routed = client.with_cluster_node(server);
            tokio::time::timeout(timeout, routed.custom::<String, _>(info, args)).await
        }
    };
    let text = answer
        .map_err(|_| format!("INFO did not answer within {timeout:?}"))?
        .map_err(|e| e.to_string())?;
    text.lines()
        .find_map(|line| line.trim().strip_prefix("run_id:"))
        .map(str::to_owned)
        .ok_or_else(|| "INFO server names no run_id".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_namespace_changes_with_any_primary_and_not_with_their_order() {
        let ids = ["0123456789abffff", "fedcba9876540000", "00000000000f1111"];
        let of = |ids: &[&str]| -> u64 {
            ids.iter()
                .map(|id| namespace_bits(id).unwrap())
                .fold(0, |a, b| a ^ b)
        };
        assert_eq!(of(&ids), of(&[ids[2], ids[0], ids[1]]));
        assert_ne!(of(&ids), of(&[ids[0], ids[1], "00000000000e1111"]));
        assert!(namespace_bits("not hex at all").is_err());
    }

    #[test]
    fn a_guard_is_refused_under_another_epoch() {
        let sealed = Primary::seal(41, 7);
        assert_eq!(Primary::unseal(sealed, 7), Some(41));
        assert_eq!(Primary::unseal(sealed, 8), None);
        // A guard the application never read (0) is refused too.
        assert_eq!(Primary::unseal(0, 7), None);
    }

    #[tokio::test]
    async fn a_writer_waits_for_a_verified_primary_until_its_deadline() {
        let primary = Primary::with("aaaaaaaaaaaa");
        let soon = || tokio::time::Instant::now() + Duration::from_millis(50);
        let patience = Duration::from_secs(10);
        assert!(
            primary.verified_by(soon(), patience).await,
            "verified: no wait"
        );
        primary.lost(false);
        let started = tokio::time::Instant::now();
        assert!(
            !primary.verified_by(soon(), patience).await,
            "never verified"
        );
        assert!(started.elapsed() >= Duration::from_millis(50));
        // Unverified for longer than the patience: no wait at all.
        let started = tokio::time::Instant::now();
        let later = started + Duration::from_secs(10);
        assert!(!primary.verified_by(later, Duration::from_millis(40)).await);
        assert!(started.elapsed() < Duration::from_secs(1));
        // A connection made since: a verification may come, so it waits again.
        primary.lost(true);
        let started = tokio::time::Instant::now();
        assert!(!primary.verified_by(later, Duration::from_millis(40)).await);
        assert!(started.elapsed() >= Duration::from_millis(40));
        // Verified while it waits: it wakes at once, in the new namespace.
        let waiting = tokio::spawn({
            let primary = Arc::clone(&primary);
            async move {
                let later = tokio::time::Instant::now() + Duration::from_secs(10);
                primary.verified_by(later, Duration::from_secs(10)).await
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let checking = primary.state().epoch;
        assert!(primary.verified(checking, "bbbbbbbbbbbbbbbb"));
        let woke = tokio::time::timeout(Duration::from_secs(2), waiting).await;
        assert!(matches!(woke, Ok(Ok(true))), "{woke:?}");
        assert_eq!(&*primary.reading().unwrap().0, "bbbbbbbbbbbb");
        assert!(primary.verified_within(Duration::from_secs(5)));
        assert!(!primary.verified_within(Duration::ZERO));
    }

    #[test]
    fn a_connection_event_stops_reads_until_the_primary_is_verified() {
        let primary = Primary::with("aaaaaaaaaaaa");
        let (namespace, epoch) = primary.reading().unwrap();
        assert_eq!(&*namespace, "aaaaaaaaaaaa");
        primary.lost(false);
        assert!(primary.reading().is_none());
        assert!(
            !primary.still(epoch),
            "a read begun before the event is discarded"
        );
        assert_eq!(&*primary.deleting(), "aaaaaaaaaaaa");
        // A check begun before another event does not count.
        let checking = primary.state().epoch;
        primary.lost(false);
        assert!(!primary.verified(checking, "bbbbbbbbbbbbbbbb"));
        let checking = primary.state().epoch;
        assert!(primary.verified(checking, "bbbbbbbbbbbbbbbb"));
        let (namespace, _) = primary.reading().unwrap();
        assert_eq!(&*namespace, "bbbbbbbbbbbb");
        assert_eq!(&*primary.deleting(), "bbbbbbbbbbbb");
        assert_eq!(
            in_namespace("board:v1:post:1", &namespace),
            "board:v1:post:1@bbbbbbbbbbbb"
        );
        assert_eq!(in_namespace("board:v1:post:1", ""), "board:v1:post:1");
    }
}
