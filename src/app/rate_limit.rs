//! Failed-login limits per account and per client address: a sliding window over two fixed windows, counted
//! in the shared cache (Redis in production), so the limit holds across replicas.
//!
//! When the cache cannot be reached the limiter lets logins through (and logs it): an outage of the cache
//! must not lock every user out. bcrypt's cost still slows guessing down.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::{AppError, AppResult};
use crate::ports::Cache;
use crate::telemetry::metrics;

#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    pub per_account: u64,
    pub per_client: u64,
    pub window: Duration,
}

pub struct LoginLimiter {
    cache: Arc<dyn Cache>,
    prefix: String,
    limits: LoginLimits,
}

struct Window {
    current: u64,
    /// How far into the current window we are, 0.0–1.0.
    elapsed: f64,
    remaining_secs: u64,
}

impl LoginLimiter {
    pub fn new(cache: Arc<dyn Cache>, prefix: &str, limits: LoginLimits) -> Self {
        Self {
            cache,
            prefix: prefix.to_owned(),
            limits,
        }
    }

    fn window(&self, now: DateTime<Utc>) -> Window {
        let width = self.limits.window.as_secs().max(1);
        let now = now.timestamp().max(0) as u64;
        let into = now % width;
        Window {
            current: now / width,
            elapsed: into as f64 / width as f64,
            remaining_secs: width - into,
        }
    }

    fn key(&self, scope: &str, subject: &str, window: u64) -> String {
        format!(
            "{}:v1:login-failures:{scope}:{subject}:{window}",
            self.prefix
        )
    }

    /// `RATE_LIMITED` when the account or the client failed too often recently. One cache round trip.
    pub async fn check(&self, account: &str, client: &str, now: DateTime<Utc>) -> AppResult<()> {
        let w = self.window(now);
        let keys = [
            self.key("account", account, w.current),
            self.key("account", account, w.current.saturating_sub(1)),
            self.key("client", client, w.current),
            self.key("client", client, w.current.saturating_sub(1)),
        ];
        let values = match self.cache.get_many(&keys).await {
            Ok(values) => values,
            Err(err) => {
                tracing::warn!(error = %err, "login limiter: cache unreachable; not limiting");
                return Ok(());
            }
        };
        let n = |i: usize| -> f64 {
            values
                .get(i)
                .and_then(|v| v.as_deref())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0) as f64
        };
        // The previous window counts for the part of it that still overlaps the sliding window.
        let estimate = |cur: f64, prev: f64| cur + prev * (1.0 - w.elapsed);
        let checks = [
            (
                "login_account",
                estimate(n(0), n(1)),
                self.limits.per_account,
            ),
            ("login_client", estimate(n(2), n(3)), self.limits.per_client),
        ];
        for (limit, seen, max) in checks {
            if seen >= max as f64 {
                metrics::rate_limited(limit);
                return Err(AppError::RateLimited {
                    retry_after_seconds: w.remaining_secs,
                });
            }
        }
        Ok(())
    }

    pub async fn record_failure(&self, account: &str, client: &str, now: DateTime<Utc>) {
        let w = self.window(now);
        let ttl = self.limits.window * 2;
        for key in [
            self.key("account", account, w.current),
            self.key("client", client, w.current),
        ] {
            if let Err(err) = self.cache.increment(&key, ttl).await {
                tracing::warn!(error = %err, "login limiter: could not count a failure");
            }
        }
    }

    /// A successful login clears the account's failures (not the client's).
    pub async fn reset(&self, account: &str, now: DateTime<Utc>) {
        let w = self.window(now);
        let keys = [
            self.key("account", account, w.current),
            self.key("account", account, w.current.saturating_sub(1)),
        ];
        if let Err(err) = self.cache.delete(&keys).await {
            tracing::warn!(error = %err, "login limiter: could not reset an account");
        }
    }
}
