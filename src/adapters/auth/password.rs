//! bcrypt on the blocking pool, behind one bounded queue per purpose.
//!
//! bcrypt keys on at most 72 bytes. Longer passwords are never hashed (validation refuses them) and never
//! verified (a 73-byte password must not match the hash of its 72-byte prefix). The `bcrypt` crate's
//! `non_truncating_*` functions count the NUL terminator it appends, so they would refuse a 72-byte password
//! whose bytes all fit; hence the explicit length check with the plain functions.
//!
//! Queues: logins, sign-ups and account checks (`changePassword`, `resign`) each have their own permits and
//! their own bound on admitted work, so a sign-up flood fills the sign-up queue only. A request that finds
//! its queue full is answered `RATE_LIMITED` at once instead of waiting into the request timeout.
//!
//! Admitted work waits at most `max_wait` for its turn: when the work ahead of it would take longer (by the
//! recent hashing times of its queue) it is refused at admission, and if its turn still has not come when
//! `max_wait` is over it is refused then. A request that gets bcrypt therefore finishes within about
//! `max_wait` plus one hash, well inside the request timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::Semaphore;

use crate::domain::validation::PASSWORD_MAX_BYTES;
use crate::domain::{AppError, AppResult};
use crate::ports::{HashPurpose, PasswordHasher};

/// What a full queue tells the client to wait.
const RETRY_AFTER_SECS: u64 = 1;

/// One purpose's share of bcrypt: `permits` computations at once, at most `capacity` admitted (running or
/// waiting), none waiting longer than `max_wait`.
struct Queue {
    permits: Semaphore,
    lanes: usize,
    admitted: AtomicUsize,
    capacity: usize,
    max_wait: Duration,
    /// A moving average of how long one piece of work took (µs; 0 until the first one ends).
    average_micros: AtomicU64,
}

/// Releases an admission when the work ends or its request is dropped.
struct Admission<'a>(&'a AtomicUsize);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Queue {
    fn new(permits: usize, capacity: usize, max_wait: Duration) -> Self {
        Self {
            permits: Semaphore::new(permits.max(1)),
            lanes: permits.max(1),
            admitted: AtomicUsize::new(0),
            capacity: capacity.max(1),
            max_wait,
            average_micros: AtomicU64::new(0),
        }
    }

    /// How long work admitted behind `ahead` others would wait for its turn, by the recent average.
    fn expected_wait(&self, ahead: usize) -> Duration {
        let rounds = (ahead / self.lanes) as u64;
        Duration::from_micros(rounds.saturating_mul(self.average_micros.load(Ordering::Relaxed)))
    }

    /// Admits the work or refuses it at once when the queue is full or its turn would come after
    /// `max_wait`.
    fn admit(&self) -> AppResult<Admission<'_>> {
        let before = self.admitted.fetch_add(1, Ordering::AcqRel);
        let admission = Admission(&self.admitted);
        if before >= self.capacity {
            crate::telemetry::metrics::rate_limited("bcrypt_queue");
            return Err(AppError::RateLimited {
                retry_after_seconds: RETRY_AFTER_SECS,
            });
        }
        let wait = self.expected_wait(before);
        if wait > self.max_wait {
            crate::telemetry::metrics::rate_limited("bcrypt_queue");
            return Err(AppError::RateLimited {
                retry_after_seconds: wait.as_secs().max(RETRY_AFTER_SECS),
            });
        }
        Ok(admission)
    }

    /// Runs admitted work once a permit is free, or refuses it when none is within `max_wait`.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let _admission = self.admit()?;
        let Ok(permit) = tokio::time::timeout(self.max_wait, self.permits.acquire()).await else {
            crate::telemetry::metrics::rate_limited("bcrypt_queue");
            return Err(AppError::RateLimited {
                retry_after_seconds: RETRY_AFTER_SECS,
            });
        };
        let _permit =
            permit.map_err(|e| AppError::internal(format!("password hashing permits: {e}")))?;
        let started = Instant::now();
        let done = tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| AppError::internal(format!("password hashing task: {e}")))?;
        self.record(started.elapsed());
        Ok(done)
    }

    /// Folds one duration into the average (weight 1/4: a change of cost or load shows within a few).
    fn record(&self, took: Duration) {
        let took = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let _ = self
            .average_micros
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |average| {
                Some(if average == 0 {
                    took
                } else {
                    average - average / 4 + took / 4
                })
            });
    }
}

pub struct BcryptHasher {
    cost: u32,
    login: Queue,
    sign_up: Queue,
    account: Queue,
    /// Real hashes of random passwords, one per cost asked for: verifying against the one of a stored hash's
    /// cost takes what verifying that stored hash takes.
    dummies: std::sync::Mutex<HashMap<u32, String>>,
}

impl BcryptHasher {
    /// Start-up only: hashes a throwaway password once. `queue` bounds each purpose's admitted work,
    /// `max_wait` how long admitted work waits for its turn.
    pub fn new(cost: u32, queue: usize, max_wait: Duration) -> Result<Self, bcrypt::BcryptError> {
        let dummy_hash = bcrypt::hash(uuid::Uuid::new_v4().to_string(), cost)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            cost,
            login: Queue::new(cores, queue, max_wait),
            sign_up: Queue::new(cores / 2, queue, max_wait),
            account: Queue::new(cores / 2, queue, max_wait),
            dummies: std::sync::Mutex::new(HashMap::from([(cost, dummy_hash)])),
        })
    }

    fn queue(&self, purpose: HashPurpose) -> &Queue {
        match purpose {
            HashPurpose::Login => &self.login,
            HashPurpose::SignUp => &self.sign_up,
            HashPurpose::Account => &self.account,
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        purpose: HashPurpose,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        self.queue(purpose).run(work).await
    }

    /// The dummy hash of `cost`, made (once) when first asked for.
    async fn dummy(&self, purpose: HashPurpose, cost: u32) -> AppResult<String> {
        let cost = cost.clamp(4, 31);
        if let Some(hash) = self.dummies.lock().ok().and_then(|d| d.get(&cost).cloned()) {
            return Ok(hash);
        }
        let hash = self
            .blocking(purpose, move || {
                bcrypt::hash(uuid::Uuid::new_v4().to_string(), cost)
            })
            .await?
            .map_err(|e| AppError::internal(format!("bcrypt: {e}")))?;
        if let Ok(mut dummies) = self.dummies.lock() {
            dummies.insert(cost, hash.clone());
        }
        Ok(hash)
    }
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    async fn hash(&self, purpose: HashPurpose, password: &str) -> AppResult<String> {
        if password.len() > PASSWORD_MAX_BYTES {
            return Err(AppError::invalid(
                "password",
                format!("must be at most {PASSWORD_MAX_BYTES} bytes"),
            ));
        }
        let password = password.to_owned();
        let cost = self.cost;
        self.blocking(purpose, move || bcrypt::hash(password, cost))
            .await?
            .map_err(|e| AppError::internal(format!("bcrypt: {e}")))
    }

    async fn verify(&self, purpose: HashPurpose, password: &str, hash: &str) -> AppResult<bool> {
        if password.len() > PASSWORD_MAX_BYTES {
            let cost = self.cost_of(hash).unwrap_or(self.cost);
            self.verify_dummy(purpose, password, cost).await?;
            return Ok(false);
        }
        let password = password.to_owned();
        let hash = hash.to_owned();
        // A malformed stored hash is a server-side fault, but must not let anyone in.
        Ok(self
            .blocking(purpose, move || bcrypt::verify(password, &hash))
            .await?
            .unwrap_or(false))
    }

    async fn verify_dummy(&self, purpose: HashPurpose, password: &str, cost: u32) -> AppResult<()> {
        let hash = self.dummy(purpose, cost).await?;
        let password: String = password.chars().take(PASSWORD_MAX_BYTES).collect();
        let _ = self
            .blocking(purpose, move || bcrypt::verify(password, &hash))
            .await?;
        Ok(())
    }

    fn needs_rehash(&self, hash: &str) -> bool {
        self.cost_of(hash).is_some_and(|cost| cost != self.cost)
    }

    fn cost_of(&self, hash: &str) -> Option<u32> {
        // $2b$12$…
        hash.split('$').nth(2).and_then(|c| c.parse().ok())
    }

    fn cost(&self) -> u32 {
        self.cost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn hashes_verify_and_long_passwords_are_not_truncated() {
        let hasher = BcryptHasher::new(4, 8, Duration::from_secs(5)).unwrap();
        let p = HashPurpose::Login;
        let hash = hasher.hash(p, "correct horse").await.unwrap();
        assert!(hasher.verify(p, "correct horse", &hash).await.unwrap());
        assert!(!hasher.verify(p, "wrong horse", &hash).await.unwrap());
        assert!(!hasher.verify(p, "x", "not a hash").await.unwrap());
        assert!(hasher.hash(p, &"a".repeat(73)).await.is_err());
        let longest = "b".repeat(72);
        let hash = hasher.hash(p, &longest).await.unwrap();
        assert!(hasher.verify(p, &longest, &hash).await.unwrap());
        assert!(
            !hasher
                .verify(p, &format!("{longest}b"), &hash)
                .await
                .unwrap()
        );
        assert!(!hasher.verify(p, &"b".repeat(71), &hash).await.unwrap());
    }

    #[tokio::test]
    async fn the_dummy_follows_the_stored_cost_and_old_costs_need_a_rehash() {
        let hasher = BcryptHasher::new(4, 8, Duration::from_secs(5)).unwrap();
        hasher
            .verify_dummy(HashPurpose::Login, "guess", 5)
            .await
            .unwrap();
        let dummy = hasher.dummies.lock().unwrap().get(&5).cloned().unwrap();
        assert_eq!(hasher.cost_of(&dummy), Some(5));
        assert!(hasher.needs_rehash(&dummy));
        let fresh = hasher
            .hash(HashPurpose::SignUp, "password-1")
            .await
            .unwrap();
        assert_eq!(hasher.cost_of(&fresh), Some(4));
        assert!(!hasher.needs_rehash(&fresh));
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_other_purposes_still_run() {
        let hasher = Arc::new(BcryptHasher::new(4, 2, Duration::from_secs(5)).unwrap());
        // Hold both sign-up admissions.
        let (a, b) = (
            hasher.sign_up.admit().unwrap(),
            hasher.sign_up.admit().unwrap(),
        );
        let refused = hasher.hash(HashPurpose::SignUp, "password-1").await;
        assert!(matches!(refused, Err(AppError::RateLimited { .. })));
        let hash = hasher.hash(HashPurpose::Login, "password-1").await.unwrap();
        assert!(
            hasher
                .verify(HashPurpose::Login, "password-1", &hash)
                .await
                .unwrap()
        );
        drop((a, b));
        assert!(hasher.hash(HashPurpose::SignUp, "password-1").await.is_ok());
    }

    #[tokio::test]
    async fn admitted_work_never_waits_past_max_wait() {
        let queue = Arc::new(Queue::new(1, 10, Duration::from_millis(200)));
        let slow = || std::thread::sleep(Duration::from_millis(600));
        // Nothing measured yet: the second is admitted, then gives up when its turn has not come in time.
        let first = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { queue.run(slow).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let second = queue.run(|| ()).await;
        assert!(
            matches!(second, Err(AppError::RateLimited { .. })),
            "{second:?}"
        );
        first.await.unwrap().unwrap();
        assert!(queue.average_micros.load(Ordering::Relaxed) >= 600_000);

        // Now the average is known: behind one running piece of 600 ms, work is refused at admission,
        // with the expected wait as its retry hint (at least a second).
        let running = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { queue.run(slow).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            queue.expected_wait(0),
            Duration::ZERO,
            "nobody ahead: no wait"
        );
        assert!(
            queue.expected_wait(1) >= Duration::from_millis(600),
            "one lane, one ahead"
        );
        let refused = queue.admit().map(|_| ());
        assert!(
            matches!(
                refused,
                Err(AppError::RateLimited {
                    retry_after_seconds: 1
                })
            ),
            "{refused:?}"
        );
        running.await.unwrap().unwrap();
        // Free again: admitted and run.
        assert!(queue.run(|| 7).await.is_ok_and(|v| v == 7));
    }
}
