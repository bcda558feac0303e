//! Every Redis command bounded by a timeout, behind a circuit breaker: once Redis leaves a command
//! unanswered, commands fail at once for `OPEN_FOR` instead of waiting for a timeout each, so a slow or
//! absent Redis costs one timeout per `OPEN_FOR`, not one per read. A Redis that answers with a refusal
//! (a script error, `CROSSSLOT`, `NOPERM`) does not open it.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fred::prelude::Error as FredError;

use crate::ports::CacheError;
use crate::request::count_redis;

/// How long the breaker stays open after a failure; the next command after it probes Redis again.
const OPEN_FOR: Duration = Duration::from_secs(1);

pub(super) fn cache_error(err: FredError) -> CacheError {
    CacheError(err.to_string())
}

/// Whether `err` means Redis did not answer (down, unreachable, reconnecting, timed out), as opposed to an
/// answer refusing the command.
fn unanswered(err: &FredError) -> bool {
    use fred::error::ErrorKind;
    // fred answers this (as `Unknown`) for a command sent while the client it picked has no connection.
    if err.details().starts_with("Failed to route command") {
        return true;
    }
    matches!(
        err.kind(),
        ErrorKind::IO
            | ErrorKind::Timeout
            | ErrorKind::Canceled
            | ErrorKind::Backpressure
            | ErrorKind::Cluster
            | ErrorKind::Sentinel
            | ErrorKind::Routing
            | ErrorKind::Auth
            | ErrorKind::Config
    )
}

/// `err` as a [`Failure`].
pub(super) fn failure(err: FredError) -> Failure {
    let unanswered = unanswered(&err);
    Failure {
        error: cache_error(err),
        unanswered,
    }
}

/// A command that failed, and whether Redis left it unanswered (as opposed to refusing it).
#[derive(Debug)]
pub(super) struct Failure {
    pub error: CacheError,
    pub unanswered: bool,
}

pub(super) struct Breaker {
    timeout: Duration,
    /// Until this instant (ms since `epoch`), commands fail at once.
    open_until_ms: AtomicU64,
    /// Since when (ms since `epoch`, plus one) Redis has left every command unanswered; 0 while it answers.
    failing_since_ms: AtomicU64,
    epoch: Instant,
}

impl Breaker {
    pub(super) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            open_until_ms: AtomicU64::new(0),
            failing_since_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Every command's timeout.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Redis answered a probe: commands go to it again.
    pub(super) fn close(&self) {
        self.open_until_ms.store(0, Ordering::Relaxed);
        self.failing_since_ms.store(0, Ordering::Relaxed);
    }

    /// How long Redis has left every command unanswered (`None`: the last one was answered).
    pub(super) fn failing_for(&self) -> Option<Duration> {
        let since = self
            .failing_since_ms
            .load(Ordering::Relaxed)
            .checked_sub(1)?;
        Some(
            self.epoch
                .elapsed()
                .saturating_sub(Duration::from_millis(since)),
        )
    }

    /// One round trip of `command` (its span's name), counted, within the timeout; fails at once while
    /// the breaker is open.
    pub(super) async fn bounded<T>(
        &self,
        command: &'static str,
        future: impl Future<Output = Result<T, FredError>>,
    ) -> Result<T, CacheError> {
        self.bounded_by(self.timeout, command, future).await
    }

    /// As [`Breaker::bounded`], within `timeout` instead of every command's.
    pub(super) async fn bounded_by<T>(
        &self,
        timeout: Duration,
        command: &'static str,
        future: impl Future<Output = Result<T, FredError>>,
    ) -> Result<T, CacheError> {
        let now = self.epoch.elapsed().as_millis() as u64;
        if now < self.open_until_ms.load(Ordering::Relaxed) {
            return Err(CacheError("redis is failing; skipped for a moment".into()));
        }
        self.bounded_anyway(timeout, command, future)
            .await
            .map_err(|failed| failed.error)
    }

    /// As [`Breaker::bounded_by`], sent even while the breaker is open (a deletion: skipping it leaves
    /// other processes reading the old value); its outcome counts as any command's, and a failure tells
    /// whether Redis left it unanswered.
    pub(super) async fn bounded_anyway<T>(
        &self,
        timeout: Duration,
        command: &'static str,
        future: impl Future<Output = Result<T, FredError>>,
    ) -> Result<T, Failure> {
        let trip = count_redis();
        // (error, whether Redis left it unanswered).
        let result = match tokio::time::timeout(timeout, future).await {
            Ok(result) => result.map_err(|err| {
                let unanswered = unanswered(&err);
                (cache_error(err), unanswered)
            }),
            Err(_) => Err((
                CacheError(format!("redis did not answer within {timeout:?}")),
                true,
            )),
        };
        trip.end(command, result.is_err());
        match &result {
            Err((_, true)) => {
                let now = self.epoch.elapsed().as_millis() as u64;
                self.open_until_ms
                    .store(now + OPEN_FOR.as_millis() as u64, Ordering::Relaxed);
                let _ = self.failing_since_ms.compare_exchange(
                    0,
                    now + 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            // Answered, even with a refusal.
            _ => self.failing_since_ms.store(0, Ordering::Relaxed),
        }
        result.map_err(|(error, unanswered)| Failure { error, unanswered })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use fred::error::ErrorKind;

    #[test]
    fn only_a_redis_that_does_not_answer_opens_the_breaker() {
        for refused in [
            "CROSSSLOT Keys in request don't hash to the same slot",
            "NOPERM User default has no permissions to run the 'evalsha' command",
            "NOSCRIPT No matching script",
            "ERR Error running script",
        ] {
            assert!(
                !unanswered(&FredError::new(ErrorKind::Unknown, refused)),
                "{refused}"
            );
        }
        assert!(unanswered(&FredError::new(
            ErrorKind::Unknown,
            "Failed to route command."
        )));
        for down in [
            ErrorKind::IO,
            ErrorKind::Timeout,
            ErrorKind::Canceled,
            ErrorKind::Cluster,
        ] {
            assert!(unanswered(&FredError::new(down.clone(), "x")), "{down:?}");
        }
    }

    #[tokio::test]
    async fn a_command_left_unanswered_makes_the_next_fail_at_once_until_closed() {
        let breaker = Breaker::new(Duration::from_millis(50));
        let never = std::future::pending::<Result<(), FredError>>();
        let err = breaker.bounded("GET", never).await.unwrap_err();
        assert!(err.0.contains("did not answer"), "{err:?}");
        // Open: the next command is not even polled.
        let polled = AtomicBool::new(false);
        let next = async {
            polled.store(true, Ordering::Relaxed);
            Ok(())
        };
        let err = breaker.bounded("GET", next).await.unwrap_err();
        assert!(err.0.contains("skipped"), "{err:?}");
        assert!(!polled.load(Ordering::Relaxed));
        // A probe that Redis answered closes it.
        breaker.close();
        assert!(breaker.bounded("GET", async { Ok(()) }).await.is_ok());
    }

    #[tokio::test]
    async fn an_outage_is_timed_from_its_first_unanswered_command_to_an_answer() {
        let breaker = Breaker::new(Duration::from_millis(20));
        assert_eq!(breaker.failing_for(), None);
        let never = || std::future::pending::<Result<(), FredError>>();
        assert!(breaker.bounded("GET", never()).await.is_err());
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Sent although open, and unanswered again: the outage still began at the first one.
        assert!(
            breaker
                .bounded_anyway(Duration::from_millis(20), "DEL", never())
                .await
                .is_err()
        );
        let failing = breaker.failing_for().expect("failing");
        assert!(failing >= Duration::from_millis(60), "{failing:?}");
        // Sent although open, and answered: over.
        let answered = breaker
            .bounded_anyway(Duration::from_millis(20), "DEL", async { Ok(()) })
            .await;
        assert!(answered.is_ok());
        assert_eq!(breaker.failing_for(), None);
    }

    #[tokio::test]
    async fn a_refusal_leaves_the_breaker_closed() {
        let breaker = Breaker::new(Duration::from_millis(50));
        let refused = async { Err::<(), _>(FredError::new(ErrorKind::Unknown, "NOPERM no")) };
        assert!(breaker.bounded("EVALSHA", refused).await.is_err());
        assert!(breaker.bounded("GET", async { Ok(7) }).await.is_ok());
    }

    #[tokio::test]
    async fn a_command_given_longer_waits_longer() {
        let breaker = Breaker::new(Duration::from_millis(50));
        let slow = || async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            Ok::<_, FredError>(1)
        };
        let given = breaker
            .bounded_by(Duration::from_secs(2), "DEL", slow())
            .await;
        assert_eq!(given.ok(), Some(1), "answered within its own timeout");
        assert!(
            breaker.bounded("GET", slow()).await.is_err(),
            "others still time out"
        );
    }
}
