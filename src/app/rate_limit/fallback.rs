//! Whether the shared counters can be used: after they fail or refuse a command, attempts are counted in
//! this process for a while (the same limits: never off), then the next attempt tries them again. An outage
//! is logged once, however many attempts it affects and however often the counters flap. docs/limiter.md.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long attempts stay in this process after the shared counters failed, before they are tried again.
pub(super) const RETRY_SHARED_AFTER: Duration = Duration::from_secs(10);

/// A failure this soon after the last warning belongs to the same outage (counters that flap): not logged
/// again.
const SAME_OUTAGE_WITHIN: Duration = Duration::from_secs(60);

pub(super) struct Health {
    retry_after_ms: u64,
    epoch: Instant,
    /// 0 while the shared counters answer; otherwise 1 + the instant (ms since `epoch`) from which the next
    /// attempt tries them again.
    retry_at_ms: AtomicU64,
    /// 1 + the instant of the last warning; 0 before the first.
    warned_at_ms: AtomicU64,
    /// 1 + the instant of the last failure or refusal; 0 before the first.
    failed_at_ms: AtomicU64,
    /// This outage was logged: its end is logged too.
    announced: AtomicBool,
}

impl Health {
    pub(super) fn new(retry_after: Duration) -> Self {
        Self {
            retry_after_ms: u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX),
            epoch: Instant::now(),
            retry_at_ms: AtomicU64::new(0),
            warned_at_ms: AtomicU64::new(0),
            failed_at_ms: AtomicU64::new(0),
            announced: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Attempts are counted in this process (the shared counters failed and have not answered since).
    pub(super) fn degraded(&self) -> bool {
        self.retry_at_ms.load(Ordering::Acquire) != 0
    }

    /// Whether this attempt should try the shared counters: they answer, or they failed long enough ago.
    pub(super) fn try_shared(&self) -> bool {
        let at = self.retry_at_ms.load(Ordering::Acquire);
        at == 0 || self.now_ms().saturating_add(1) >= at
    }

    /// The shared counters answered: limits are shared (again).
    pub(super) fn answered(&self) {
        if self.retry_at_ms.swap(0, Ordering::AcqRel) != 0
            && self.announced.swap(false, Ordering::AcqRel)
        {
            tracing::info!("limiter: the shared counters answer again; limits are shared again");
        }
    }

    /// Whether the shared counters failed or refused a command less than `within` ago: they may miss
    /// attempts this process counted meanwhile.
    pub(super) fn failed_within(&self, within: Duration) -> bool {
        let at = self.failed_at_ms.load(Ordering::Acquire);
        let within = u64::try_from(within.as_millis()).unwrap_or(u64::MAX);
        at != 0 && self.now_ms().saturating_add(1) < at.saturating_add(within)
    }

    /// The shared counters answer, but may have lost counts (their server changed): remembered as a failure
    /// ([`Health::failed_within`]) without holding attempts in the process.
    pub(super) fn lost_counts(&self) {
        self.failed_at_ms
            .store(self.now_ms().saturating_add(1), Ordering::Release);
        tracing::info!(
            "limiter: the shared counters' server may have changed; this process's own counts are judged beside theirs for two windows"
        );
    }

    /// The shared counters failed or refused a command (`why`): count in this process for a while.
    pub(super) fn failed(&self, why: &str) {
        let now = self.now_ms();
        self.failed_at_ms
            .store(now.saturating_add(1), Ordering::Release);
        let retry_at = now.saturating_add(self.retry_after_ms).saturating_add(1);
        if self.retry_at_ms.swap(retry_at, Ordering::AcqRel) != 0 {
            return;
        }
        let warned = self.warned_at_ms.load(Ordering::Acquire);
        let quiet = u64::try_from(SAME_OUTAGE_WITHIN.as_millis()).unwrap_or(u64::MAX);
        if warned != 0 && now.saturating_add(1) < warned.saturating_add(quiet) {
            tracing::debug!(error = why, "limiter: the shared counters failed again");
            return;
        }
        self.warned_at_ms
            .store(now.saturating_add(1), Ordering::Release);
        self.announced.store(true, Ordering::Release);
        tracing::warn!(
            error = why,
            retry_in_ms = self.retry_after_ms,
            "limiter: the shared counters failed or refused a command; limiting in this process, with the same limits, until they answer"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_holds_attempts_in_the_process_until_the_retry_time() {
        let health = Health::new(Duration::from_millis(40));
        assert!(health.try_shared() && !health.degraded());
        health.failed("CROSSSLOT Keys in request don't hash to the same slot");
        assert!(health.degraded());
        assert!(!health.try_shared(), "held in the process");
        std::thread::sleep(Duration::from_millis(60));
        assert!(health.try_shared(), "tried again after the hold");
        assert!(health.degraded(), "still counting here until they answer");
        health.answered();
        assert!(!health.degraded() && health.try_shared());
    }

    #[test]
    fn a_failure_is_remembered_for_the_time_given() {
        let health = Health::new(Duration::ZERO);
        assert!(
            !health.failed_within(Duration::from_secs(60)),
            "never failed"
        );
        health.failed("down");
        health.answered();
        assert!(health.failed_within(Duration::from_secs(60)));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!health.failed_within(Duration::from_millis(20)));
    }

    #[test]
    fn flapping_counters_are_one_outage() {
        let health = Health::new(Duration::ZERO);
        health.failed("first");
        assert!(health.announced.load(Ordering::Acquire));
        let warned = health.warned_at_ms.load(Ordering::Acquire);
        health.answered();
        assert!(!health.announced.load(Ordering::Acquire));
        health.failed("again");
        // Within a minute of the warning: not warned again, and its end is not announced either.
        assert_eq!(health.warned_at_ms.load(Ordering::Acquire), warned);
        assert!(!health.announced.load(Ordering::Acquire));
    }
}
