//! Limits counted in the shared counters, so they hold across replicas: a sliding window over two fixed
//! windows per subject; every attempt reserves its slot before the work, refusals are taken back.
//! Windows, reserve / take-back, retryAfterSeconds and degraded mode: docs/limiter.md. The points budget
//! of GraphQL operations ([`points`]): docs/cost.md.

mod fallback;
mod lease;
mod points;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::{AppError, AppResult, UserId};
use crate::ports::{CounterWindows, Counters};
use crate::telemetry::metrics;

use fallback::Health;

pub use points::{Points, PointsRefused, Spender};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Password guesses (login, `changePassword`, `resign`) per account.
    pub per_account: u64,
    /// Password guesses per client address.
    pub per_client: u64,
    /// Sign-ups per client address.
    pub sign_ups_per_client: u64,
    /// Post and comment edits per user.
    pub edits_per_user: u64,
    /// Posts and comments created per user.
    pub creates_per_user: u64,
    /// Reports opened per user.
    pub reports_per_user: u64,
    pub window: Duration,
    /// Points (the cost of GraphQL operations) per member or anonymous client per `points_window`.
    pub points_per_window: u64,
    pub points_window: Duration,
}

pub struct Limiter {
    counters: Arc<dyn Counters>,
    /// This process's own count of its attempts, kept all along: the limits hold on it, with the same
    /// numbers, while the shared counters fail, and an outage does not start anyone from zero.
    fallback: Arc<dyn Counters>,
    /// The process's own count of the points budgets (the same counters as `fallback` unless
    /// [`Limiter::points_counted_apart`]).
    points_fallback: Arc<dyn Counters>,
    /// Whether the shared counters are failing, and when to try them again.
    health: Health,
    /// The shared counters' [`Counters::server_changes`] when they last answered: a change since means they
    /// may have lost counts (a Redis restarted empty), as after a failure.
    server_changes: AtomicU64,
    /// Points of budgets added to the counters by this process and not spent yet.
    leases: lease::Leases,
    prefix: String,
    limits: Limits,
}

struct Window {
    current: u64,
    /// How far into the current window we are, 0.0–1.0.
    elapsed: f64,
}

/// Where an attempt was counted ([`Limiter::reserve_guess`], [`Limiter::reserve_sign_up`]), so that taking it
/// back takes it from there: the window of its time, and the shared counters only if they counted it.
#[derive(Debug, Clone, Copy)]
pub struct Reservation {
    at: DateTime<Utc>,
    shared: bool,
}

/// What [`Limiter::add`] counted: the counts judged (the shared ones, or the process's own while they
/// fail), and, when they are the shared ones after a recent outage, the process's own beside them.
struct Counted {
    shared: bool,
    counts: Vec<(u64, u64)>,
    own: Vec<(u64, u64)>,
}

/// What an attempt is counted against.
struct Slot {
    /// Names the counter's key and the `rate_limited` metric's label.
    scope: &'static str,
    /// Whose attempts are counted (an account, a client address, a user).
    subject: String,
    limit: u64,
}

impl Slot {
    fn new(scope: &'static str, subject: String, limit: u64) -> Self {
        Self {
            scope,
            subject,
            limit,
        }
    }
}

impl Limiter {
    /// Limits counted in `counters` (shared by every process), or in `fallback` (this process's own)
    /// while they fail.
    pub fn new(
        counters: Arc<dyn Counters>,
        fallback: Arc<dyn Counters>,
        prefix: &str,
        limits: Limits,
    ) -> Self {
        Self {
            server_changes: AtomicU64::new(counters.server_changes()),
            counters,
            points_fallback: Arc::clone(&fallback),
            fallback,
            health: Health::new(fallback::RETRY_SHARED_AFTER),
            leases: lease::Leases::default(),
            prefix: prefix.to_owned(),
            limits,
        }
    }

    /// Counts the points budgets' own share in `own`, apart from the other limits: every anonymous client
    /// address has a budget, and a flood from many addresses must not push a password guesser's count out
    /// of bounded counters.
    pub fn points_counted_apart(mut self, own: Arc<dyn Counters>) -> Self {
        self.points_fallback = own;
        self
    }

    /// How long attempts stay counted in this process after the shared counters failed, before the next
    /// attempt tries them again (10 s unless changed).
    pub fn retry_shared_after(mut self, after: Duration) -> Self {
        self.health = Health::new(after);
        self
    }

    /// Adds this attempt to the current windows of `slots` and reads their previous windows, in this
    /// process's own counters and in the shared ones — unless they fail or refuse, or failed a moment ago.
    /// `None` when neither can count (nothing is limited).
    async fn add(&self, slots: &[Slot], windows: &[CounterWindows]) -> Option<Counted> {
        let ttl = self.limits.window * 2;
        let own = self.fallback.add_reading(windows, ttl).await;
        if self.health.try_shared() {
            match self.counters.add_reading(windows, ttl).await {
                Ok(counts) if counts.len() == windows.len() => {
                    self.health.answered();
                    self.note_server_changes();
                    // The process's own count is judged beside them only while they may miss attempts
                    // it made during an outage (two windows): concurrent attempts reach the two counts
                    // in different orders, and judging both at all times would refuse more than the
                    // limit's worth of a burst.
                    let own = match own {
                        Ok(own) if self.health.failed_within(ttl) => own,
                        _ => Vec::new(),
                    };
                    return Some(Counted {
                        shared: true,
                        counts,
                        own,
                    });
                }
                Ok(counts) => self.health.failed(&format!(
                    "{} counts answered for {} windows",
                    counts.len(),
                    windows.len()
                )),
                Err(err) => self.health.failed(&err.0),
            }
        }
        for slot in slots {
            metrics::limiter_fallback(slot.scope);
        }
        match own {
            Ok(counts) => Some(Counted {
                shared: false,
                counts,
                own: Vec::new(),
            }),
            Err(err) => {
                tracing::error!(error = %err, "limiter: no counters answer; not limiting");
                None
            }
        }
    }

    /// A server behind the shared counters that may have changed since they last answered (a restart, a
    /// failover) may have lost counts: treated as a failure that has ended, so the process's own count is
    /// judged beside theirs for the next two windows.
    fn note_server_changes(&self) {
        let now = self.counters.server_changes();
        let before = self.server_changes.swap(now, Ordering::AcqRel);
        if before != now {
            self.health.lost_counts();
        }
    }

    /// Takes an attempt back from the process's own count, and from the shared counters when `shared`.
    async fn take_back(&self, keys: &[String], shared: bool) {
        if let Err(err) = self.fallback.take_back(keys).await {
            tracing::warn!(error = %err, "limiter: could not take an attempt back in this process");
        }
        if shared && let Err(err) = self.counters.take_back(keys).await {
            tracing::warn!(error = %err, "limiter: could not take an attempt back");
        }
    }

    fn window(&self, now: DateTime<Utc>) -> Window {
        let width = self.limits.window.as_secs().max(1);
        let now = now.timestamp().max(0) as u64;
        let into = now % width;
        Window {
            current: now / width,
            elapsed: into as f64 / width as f64,
        }
    }

    /// A counter's key. The hash tag (`{scope:subject}`) puts every window of one subject in one Redis
    /// Cluster slot, so one script may add to the current window and read the previous one.
    fn key(&self, scope: &str, subject: &str, window: u64) -> String {
        format!("{}:v1:limit:{{{scope}:{subject}}}:{window}", self.prefix)
    }

    /// Counts this attempt in every slot, then answers `RATE_LIMITED` if any slot is over its limit. One
    /// round trip (add to the current windows and read the previous ones).
    async fn reserve(&self, slots: &[Slot], now: DateTime<Utc>) -> AppResult<Reservation> {
        let w = self.window(now);
        let windows: Vec<CounterWindows> = slots
            .iter()
            .map(|slot| CounterWindows {
                current: self.key(slot.scope, &slot.subject, w.current),
                previous: self.key(slot.scope, &slot.subject, w.current.saturating_sub(1)),
            })
            .collect();
        let current: Vec<String> = windows.iter().map(|w| w.current.clone()).collect();
        let Some(counted) = self.add(slots, &windows).await else {
            return Ok(Reservation {
                at: now,
                shared: false,
            });
        };
        // The previous window counts for the part of it that still overlaps the sliding window.
        let estimate =
            |(now_count, prev): (u64, u64)| now_count as f64 + prev as f64 * (1.0 - w.elapsed);
        let width = self.limits.window.as_secs().max(1);
        for (i, slot) in slots.iter().enumerate() {
            let (scope, max) = (slot.scope, &slot.limit);
            // The shared count, unless this process's own is higher: it holds every attempt made here,
            // also those made while the shared counters failed, which they never saw.
            let shared = counted.counts.get(i).copied().unwrap_or((0, 0));
            let (now_count, prev) = match counted.own.get(i).copied() {
                Some(own) if estimate(own) > estimate(shared) => own,
                _ => shared,
            };
            if estimate((now_count, prev)) > *max as f64 {
                metrics::rate_limited(scope);
                // A refused attempt does not count: refusals must neither lengthen the wait nor use up a
                // budget that attempts which ran are owed.
                self.take_back(&current, counted.shared).await;
                return Err(AppError::RateLimited {
                    retry_after_seconds: retry_after(
                        now_count.saturating_sub(1),
                        prev,
                        *max,
                        w.elapsed,
                        width,
                    ),
                });
            }
        }
        Ok(Reservation {
            at: now,
            shared: counted.shared,
        })
    }

    /// Takes back the slots of `slots` reserved by `reservation` (an attempt that turned out not to count),
    /// where it was counted: in the window it was counted in, and in the shared counters only if it was
    /// counted there.
    async fn release(&self, slots: &[(&'static str, String)], reservation: Reservation) {
        let w = self.window(reservation.at);
        let keys: Vec<String> = slots
            .iter()
            .map(|(scope, subject)| self.key(scope, subject, w.current))
            .collect();
        self.take_back(&keys, reservation.shared).await;
    }

    /// Reserves a password guess: against the account (by user id, whatever form of login named it) and
    /// always against the client. A login that names no account is counted against that login (its
    /// folded form), with the same limit: the answer after five guesses does not tell an existing account
    /// from an unknown one.
    pub async fn reserve_guess(
        &self,
        account: Guessed<'_>,
        client: &str,
        now: DateTime<Utc>,
    ) -> AppResult<Reservation> {
        let subject = account.subject();
        let slots = [
            Slot::new("guess_client", client.to_owned(), self.limits.per_client),
            Slot::new("guess_account", subject, self.limits.per_account),
        ];
        self.reserve(&slots, now).await
    }

    /// A right password, or a guess that was never checked (bcrypt's queue refused it), takes back the
    /// slots its guess reserved ([`Limiter::reserve_guess`] answered `reserved`).
    pub async fn release_guess(&self, account: Guessed<'_>, client: &str, reserved: Reservation) {
        let slots = [
            ("guess_account", account.subject()),
            ("guess_client", client.to_owned()),
        ];
        self.release(&slots, reserved).await;
    }

    /// A sign-up that never ran (bcrypt's queue refused it) takes its slot back.
    pub async fn release_sign_up(&self, client: &str, reserved: Reservation) {
        self.release(&[("sign_up_client", client.to_owned())], reserved)
            .await;
    }

    pub async fn reserve_sign_up(
        &self,
        client: &str,
        now: DateTime<Utc>,
    ) -> AppResult<Reservation> {
        let slots = [Slot::new(
            "sign_up_client",
            client.to_owned(),
            self.limits.sign_ups_per_client,
        )];
        self.reserve(&slots, now).await
    }

    pub async fn reserve_edit(&self, user: UserId, now: DateTime<Utc>) -> AppResult<()> {
        let slots = [Slot::new(
            "edit_user",
            user.0.to_string(),
            self.limits.edits_per_user,
        )];
        self.reserve(&slots, now).await.map(|_| ())
    }

    /// Counts a report by `user`.
    pub async fn reserve_report(&self, user: UserId, now: DateTime<Utc>) -> AppResult<()> {
        let slots = [Slot::new(
            "report_user",
            user.0.to_string(),
            self.limits.reports_per_user,
        )];
        self.reserve(&slots, now).await.map(|_| ())
    }

    /// Counts a new post or comment by `user`.
    pub async fn reserve_create(&self, user: UserId, now: DateTime<Utc>) -> AppResult<()> {
        let slots = [Slot::new(
            "create_user",
            user.0.to_string(),
            self.limits.creates_per_user,
        )];
        self.reserve(&slots, now).await.map(|_| ())
    }
}

/// Whose password a guess is for.
#[derive(Debug, Clone, Copy)]
pub enum Guessed<'a> {
    /// An existing account: its name and email forms share the count.
    Account(UserId),
    /// No account has this login (case-folded name, or normalised email).
    Unknown(&'a str),
}

impl Guessed<'_> {
    fn subject(&self) -> String {
        match self {
            Guessed::Account(id) => id.0.to_string(),
            // Hashed: a key of bounded size whatever was typed, and no login strings stored in the cache.
            Guessed::Unknown(login) => format!("u{}", &sha256_hex(login)[..32]),
        }
    }
}

/// Seconds until one more attempt fits a sliding window of `width` seconds: `current` attempts counted in
/// the current window, `previous` in the one before, `elapsed` (0.0–1.0) of the current window gone. The
/// previous window's weight falls as the current one passes; once the current window is over, its count
/// becomes the previous one's and falls in turn. Never more than the window: a sliding window forgets an
/// attempt after `width` seconds, and the two-window estimate, which assumes attempts spread evenly, would
/// otherwise hold a burst made early in a window for up to two (a client retrying then and refused again
/// is not counted, and gets the next hint).
fn retry_after(current: u64, previous: u64, max: u64, elapsed: f64, width: u64) -> u64 {
    let (current, previous, max, w) = (current as f64, previous as f64, max as f64, width as f64);
    let room = max - 1.0;
    let wait = if current <= room {
        // Within this window: when previous × (1 − e) ≤ room − current.
        let needed = if previous > 0.0 {
            1.0 - (room - current) / previous
        } else {
            0.0
        };
        if needed <= 1.0 {
            (needed - elapsed).max(0.0) * w
        } else {
            (1.0 - elapsed) * w + next_window(current, room) * w
        }
    } else {
        (1.0 - elapsed) * w + next_window(current, room) * w
    };
    // (Less a microsecond of float noise, so an exact 270 s is not 271.)
    ((wait - 1e-6).ceil() as u64).clamp(1, width)
}

/// The fraction of the next window after which `current` (then the previous window's count) leaves room.
fn next_window(current: f64, room: f64) -> f64 {
    if current <= 0.0 {
        0.0
    } else {
        (1.0 - room / current).clamp(0.0, 1.0)
    }
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests;
