//! Replica routing as a repository wrapper: reads go to the replica when the request's route allows,
//! else to the primary; a failing replica is answered by the primary and rests. docs/request-context.md.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::{AppError, AppResult};
use crate::ports::{CommentRepo, PostRepo, PostSearch, VoteRepo};
use crate::request;
use crate::telemetry::metrics;

/// How long a replica that failed is left alone.
const REPLICA_REST: Duration = Duration::from_secs(5);

/// The repositories on the read replica, for the uncached reads (lists, counts, vote lookups).
pub struct ReadReplica {
    pub(super) posts: Arc<dyn PostRepo>,
    pub(super) search: Arc<dyn PostSearch>,
    pub(super) comments: Arc<dyn CommentRepo>,
    pub(super) votes: Arc<dyn VoteRepo>,
    /// How long after a write its viewer's reads stay on the primary.
    pub(super) read_your_writes: Duration,
}

impl ReadReplica {
    pub fn new(
        posts: Arc<dyn PostRepo>,
        search: Arc<dyn PostSearch>,
        comments: Arc<dyn CommentRepo>,
        votes: Arc<dyn VoteRepo>,
        read_your_writes: Duration,
    ) -> Self {
        Self {
            posts,
            search,
            comments,
            votes,
            read_your_writes,
        }
    }
}

/// Whether the replica may be asked: after a failure it is left alone until then, so an outage costs one
/// timeout, not one per read. One per replica, shared by its repositories.
#[derive(Default)]
pub(super) struct ReplicaHealth {
    resting_until: Mutex<Option<Instant>>,
}

impl ReplicaHealth {
    fn available(&self) -> bool {
        self.resting_until
            .lock()
            .map(|until| until.is_none_or(|t| Instant::now() >= t))
            .unwrap_or(true)
    }

    fn failed(&self) {
        if let Ok(mut until) = self.resting_until.lock() {
            *until = Some(Instant::now() + REPLICA_REST);
        }
    }
}

/// One repository on the primary and, if configured, on the replica.
pub(super) struct Routed<R: ?Sized> {
    primary: Arc<R>,
    replica: Option<(Arc<R>, Arc<ReplicaHealth>)>,
}

impl<R: ?Sized> Clone for Routed<R> {
    fn clone(&self) -> Self {
        Self {
            primary: Arc::clone(&self.primary),
            replica: self.replica.clone(),
        }
    }
}

impl<R: ?Sized> Routed<R> {
    pub(super) fn primary_only(primary: Arc<R>) -> Self {
        Self {
            primary,
            replica: None,
        }
    }

    /// The same repository with reads routed to `replica` where the request allows it.
    pub(super) fn with_replica(self, replica: Arc<R>, health: &Arc<ReplicaHealth>) -> Self {
        Self {
            replica: Some((replica, Arc::clone(health))),
            ..self
        }
    }

    /// The primary's repository: writes, and the reads that fill the cache (a lagging replica must never
    /// put an old row there).
    pub(super) fn primary(&self) -> &Arc<R> {
        &self.primary
    }

    /// Runs the read `call` on the replica when the request may read it ([`request::replica_allowed`]),
    /// else on the primary. A replica that fails is answered by the primary, and then rests for
    /// [`REPLICA_REST`].
    pub(super) async fn read<'a, T, F, Fut>(&'a self, call: F) -> AppResult<T>
    where
        F: Fn(&'a R) -> Fut,
        Fut: Future<Output = AppResult<T>>,
    {
        let replica = self.replica.as_ref().filter(|_| request::replica_allowed());
        match replica {
            Some((_, health)) if !health.available() => {
                metrics::routed_read("fallback");
                call(&self.primary).await
            }
            Some((replica, health)) => match call(replica).await {
                Err(AppError::Unavailable(reason) | AppError::Internal(reason)) => {
                    tracing::warn!(%reason, rest_secs = REPLICA_REST.as_secs(), "the read replica failed; reading the primary");
                    health.failed();
                    metrics::routed_read("fallback");
                    call(&self.primary).await
                }
                answer => {
                    metrics::routed_read("replica");
                    answer
                }
            },
            None => {
                if self.replica.is_some() {
                    metrics::routed_read("primary");
                }
                call(&self.primary).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A repository that answers its name, or fails while `failing`.
    struct Fake {
        name: &'static str,
        failing: bool,
        calls: AtomicU32,
    }

    impl Fake {
        fn new(name: &'static str, failing: bool) -> Arc<Self> {
            Arc::new(Self {
                name,
                failing,
                calls: AtomicU32::new(0),
            })
        }

        async fn read(&self) -> AppResult<&'static str> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if self.failing {
                Err(AppError::Unavailable("replica down".into()))
            } else {
                Ok(self.name)
            }
        }
    }

    fn routed(replica_fails: bool) -> (Routed<Fake>, Arc<Fake>) {
        let replica = Fake::new("replica", replica_fails);
        let health = Arc::new(ReplicaHealth::default());
        let routed = Routed::primary_only(Fake::new("primary", false))
            .with_replica(Arc::clone(&replica), &health);
        (routed, replica)
    }

    #[tokio::test]
    async fn reads_go_to_the_replica_only_where_the_request_allows() {
        let (routed, _) = routed(false);
        let state = request::RequestState::begin();
        let before = state.run(routed.read(|r| r.read())).await;
        let after = state
            .run(async {
                request::allow_replica(true);
                routed.read(|r| r.read()).await
            })
            .await;
        // Outside a request (the CLI, the export): the primary.
        let outside = routed.read(|r| r.read()).await;
        assert_eq!(
            (before.ok(), after.ok(), outside.ok()),
            (Some("primary"), Some("replica"), Some("primary"))
        );
    }

    #[tokio::test]
    async fn a_failing_replica_is_answered_by_the_primary_then_rests() {
        let (routed, replica) = routed(true);
        let state = request::RequestState::begin();
        let answers = state
            .run(async {
                request::allow_replica(true);
                let first = routed.read(|r| r.read()).await;
                let second = routed.read(|r| r.read()).await;
                (first.ok(), second.ok())
            })
            .await;
        assert_eq!(answers, (Some("primary"), Some("primary")));
        assert_eq!(
            replica.calls.load(Ordering::Relaxed),
            1,
            "the resting replica is not asked again"
        );
    }

    #[tokio::test]
    async fn a_replica_answer_that_is_not_a_failure_is_kept() {
        let replica = Fake::new("replica", false);
        let health = Arc::new(ReplicaHealth::default());
        let routed = Routed::primary_only(Fake::new("primary", false))
            .with_replica(Arc::clone(&replica), &health);
        let state = request::RequestState::begin();
        let refused: AppResult<&str> = state
            .run(async {
                request::allow_replica(true);
                routed
                    .read(|_| async { Err(AppError::NotFound("no such post".into())) })
                    .await
            })
            .await;
        assert!(matches!(refused, Err(AppError::NotFound(_))));
        assert!(health.available(), "a domain answer is no replica failure");
    }
}
