//! The traits the application needs from the outside world. Adapters implement them; nothing above the ports
//! knows which database or cache is behind them.

mod bans;
mod board;
mod events;
mod moderation;
mod notifications;
mod reports;
mod saves;
mod search;

pub use bans::{BanRepo, NewCategoryBan};
pub use board::{CategoryChange, CategoryRepo, CommentRepo, PostRepo, VoteRepo};
pub use events::{Events, EventsError, Notice};
pub use moderation::ModerationRepo;
pub use notifications::NotificationRepo;
pub use reports::{NewReport, QueueFilter, ReportRepo, Resolution};
pub use saves::{SaveRepo, SavedPost, WatchRepo};
pub use search::PostSearch;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::page::{Page, PageRequest};
use crate::domain::{
    AppResult, LoginEvent, NewModAction, Role, User, UserId, UserName, UserStateKind,
};

/// A validated name with the two keys that make it unique: case-folded (`key`) and look-alikes folded
/// (`skeleton`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredName {
    pub name: String,
    pub key: String,
    pub skeleton: String,
}

impl From<UserName> for StoredName {
    fn from(name: UserName) -> Self {
        let (key, skeleton) = (name.key(), name.skeleton());
        Self {
            name: name.into_string(),
            key,
            skeleton,
        }
    }
}

/// How a wanted name clashes with a stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameClash {
    /// The same name, ignoring case.
    Taken,
    /// Another name that looks like it (one skeleton).
    LookAlike,
}

/// What sign-up stores. Names and emails arrive validated.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: StoredName,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// A profile change; `None` leaves the column as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub name: Option<StoredName>,
    pub email: Option<String>,
}

/// The password hash of a user found by login name or email. Resigned users have none.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user_id: UserId,
    pub password_hash: Option<String>,
}

/// Users, roles, states and login history.
///
/// # Errors
/// Every method answers `AppError::Unavailable` when the database cannot be reached and `AppError::Internal`
/// for anything unexpected. Methods that write unique columns answer `AppError::Conflict` naming the field
/// (`name` also when another user's name has the same skeleton), even when a concurrent write took the value.
#[async_trait]
pub trait UserRepo: Send + Sync {
    async fn create(&self, user: NewUser) -> AppResult<UserId>;
    /// The users with these ids, in no particular order; unknown ids are simply absent. One round trip per call.
    async fn by_ids(&self, ids: &[UserId]) -> AppResult<Vec<User>>;
    /// The id of the user whose case-folded name is `name_key`.
    async fn id_by_name_key(&self, name_key: &str) -> AppResult<Option<UserId>>;
    /// Whether a user holds this name (ignoring case) or a look-alike of it; the same name wins over a
    /// look-alike. One round trip.
    async fn name_clash(&self, name: &StoredName) -> AppResult<Option<NameClash>>;
    /// Looks a login up by case-folded name or by (lower-case) email.
    async fn credentials(&self, name_key: &str, email: &str) -> AppResult<Option<Credentials>>;
    async fn password_hash(&self, id: UserId) -> AppResult<Option<String>>;
    /// The password hash of the newest user who has one (its cost is what most stored hashes have).
    async fn newest_password_hash(&self) -> AppResult<Option<String>>;
    async fn record_login(&self, id: UserId, at: DateTime<Utc>) -> AppResult<()>;
    /// Newest first.
    async fn login_history(
        &self,
        id: UserId,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<LoginEvent>>;
    async fn count_logins(&self, id: UserId) -> AppResult<i64>;
    async fn update_profile(&self, id: UserId, change: ProfileChange) -> AppResult<()>;
    async fn set_password(&self, id: UserId, password_hash: &str) -> AppResult<()>;
    /// Nulls name, email and password, marks the user `inactive`, and revokes every refresh session, atomically.
    async fn resign(&self, id: UserId, at: DateTime<Utc>) -> AppResult<()>;
    /// `log`, when given (an admin's change; not the command line's), is written in the same transaction.
    async fn set_role(&self, id: UserId, role: Role, log: Option<&NewModAction>) -> AppResult<()>;
    /// Adds the state, or replaces its detail and end when the user already has it; `until`: when it ends by
    /// itself (`None`: when removed). Blocking also revokes every refresh session of the user in the same
    /// transaction; `log` is written in it too.
    async fn add_state(
        &self,
        id: UserId,
        state: UserStateKind,
        detail: Option<&str>,
        at: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        log: Option<&NewModAction>,
    ) -> AppResult<()>;
    /// `log` is written in the same transaction, only when the user had the state.
    async fn remove_state(
        &self,
        id: UserId,
        state: UserStateKind,
        log: Option<&NewModAction>,
    ) -> AppResult<()>;
    /// Notes that `id`'s row was changed from outside the servers (the command line), for servers whose
    /// cache no other process reaches ([`UserRepo::outside_changes_after`]).
    async fn record_outside_change(&self, id: UserId, at: DateTime<Utc>) -> AppResult<()>;
    /// The changes noted after the one numbered `after` (0: from the first), oldest first, at most 1 000:
    /// (number, user). One round trip.
    async fn outside_changes_after(&self, after: i64) -> AppResult<Vec<(i64, UserId)>>;
    /// Database reachability, for `/readyz`.
    async fn ping(&self) -> AppResult<()>;
}

/// A refresh session row. Only the SHA-256 of the token is stored.
#[derive(Debug, Clone)]
pub struct RefreshSession {
    pub id: i64,
    pub user_id: UserId,
    pub family_id: String,
    pub expires_at: DateTime<Utc>,
    pub rotated: bool,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct NewRefreshSession {
    pub user_id: UserId,
    pub family_id: String,
    pub token_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Refresh sessions: rotation families and revocation (RFC 9700 §4.14).
#[async_trait]
pub trait SessionRepo: Send + Sync {
    async fn create(&self, session: NewRefreshSession) -> AppResult<()>;
    async fn find(&self, token_hash: &str) -> AppResult<Option<RefreshSession>>;
    /// Marks `old` rotated and stores `next`, atomically; `false` when `old` was already rotated or revoked
    /// (a concurrent reuse), in which case nothing is stored.
    async fn rotate(&self, old: i64, next: NewRefreshSession, at: DateTime<Utc>)
    -> AppResult<bool>;
    async fn revoke_family(&self, family_id: &str, at: DateTime<Utc>) -> AppResult<()>;
    /// Whether the family still has a session that is neither revoked, rotated nor expired at `at`.
    async fn family_live(&self, family_id: &str, at: DateTime<Utc>) -> AppResult<bool>;
    /// Revokes one session; `false` when no live session has this hash.
    async fn revoke(&self, token_hash: &str, at: DateTime<Utc>) -> AppResult<bool>;
    async fn revoke_all(&self, user_id: UserId, at: DateTime<Utc>) -> AppResult<()>;
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("cache: {0}")]
pub struct CacheError(pub String);

/// What a deletion of cache keys changed, as near caches need to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// Anything the keys' values hold.
    All,
    /// Only values answers show in slots (see [`Cache::delete_slot_values`]): a vote's counter and the
    /// voter's own entry.
    SlotValues,
}

/// What a shared cache tells the near caches of the processes sharing it (see `app::near_cache`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// Some process deleted these keys.
    Keys(Vec<String>),
    /// Some process deleted these keys after a change of values answers show only in slots (see
    /// [`Cache::delete_slot_values`]).
    SlotValues(Vec<String>),
    /// Some process deleted keys too many to name (an announcement too long to split): forget everything,
    /// keep caching.
    Everything,
    /// Deletions may have been missed (the feed's connection dropped): forget everything, stop caching.
    Lost,
    /// The feed is connected again: forget everything, cache again.
    Live,
    /// The marker [`Cache::mark`] published came back: every announcement made before it was published has
    /// been delivered ahead of it.
    Marked(u64),
}

/// A value for [`Cache::fill_many`]: stored under `key` for `ttl`, unless the key was deleted since its
/// fill guard `guard` was read by [`Cache::get_for_fill`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillEntry {
    pub key: String,
    pub value: String,
    pub ttl: Duration,
    pub guard: u64,
}

impl FillEntry {
    pub fn new(key: String, value: String, ttl: Duration, guard: u64) -> Self {
        Self {
            key,
            value,
            ttl,
            guard,
        }
    }
}

/// A shared key/value cache (Redis, or in-process). Never the source of truth: callers fall back to the
/// database on any error.
#[async_trait]
pub trait Cache: Send + Sync {
    /// One value per key, in order; `None` for a miss. One round trip.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, CacheError>;
    /// Stores every entry with its own time to live. One round trip.
    async fn set_many(&self, entries: &[(String, String, Duration)]) -> Result<(), CacheError>;
    /// Reads `keys` for cache-aside: their values and, per key, a fill guard to hand back to
    /// [`Cache::fill_many`]. One round trip.
    async fn get_for_fill(
        &self,
        keys: &[String],
    ) -> Result<(Vec<Option<String>>, Vec<u64>), CacheError>;
    /// Stores each entry only if its key was not deleted since its guard was read: a value read from the
    /// database before a concurrent write committed must not land after that write's [`Cache::delete`]
    /// (it would stay stale for a whole TTL). One round trip.
    async fn fill_many(&self, entries: &[FillEntry]) -> Result<(), CacheError>;
    /// Deletes the keys (advancing their fill guards) and, for a cache shared by several processes,
    /// announces the deletion on the [`Cache::invalidations`] feed of every one of them, in the same round
    /// trip. Answers the keys' fill guards as the deletion left them, in order, as
    /// [`Cache::get_for_fill`] would read them right after it (empty when not known): the deleting
    /// request's own later read of such a key needs not ask the cache, it knows the key is gone.
    async fn delete(&self, keys: &[String]) -> Result<Vec<u64>, CacheError>;
    /// As [`Cache::delete`], for a change of values that answers show only in slots (a vote: a counter and
    /// the voter's own entry), announced as [`Invalidation::SlotValues`] so that near caches keep their
    /// templates. A cache that cannot tell the two apart announces a plain deletion, which retires more.
    async fn delete_slot_values(&self, keys: &[String]) -> Result<Vec<u64>, CacheError> {
        self.delete(keys).await
    }
    /// Deletions made by any process sharing this cache, for near caches, with whether the feed is live
    /// now; `None` when no other process shares it (the in-process cache), so a near cache only needs to
    /// hear its own process's deletions.
    fn invalidations(&self) -> Option<(bool, tokio::sync::broadcast::Receiver<Invalidation>)> {
        None
    }
    /// Publishes marker `n` on this process's own channel, followed by the same connection as the
    /// announcements: its [`Invalidation::Marked`] arrives after every announcement published before it.
    /// One round trip; a no-op for a cache without [`Cache::invalidations`].
    async fn mark(&self, _n: u64) -> Result<(), CacheError> {
        Ok(())
    }
    async fn ping(&self) -> Result<(), CacheError>;
    /// `"redis"` or `"memory"`, for logs and readiness output.
    fn kind(&self) -> &'static str;
    /// (connected clients, idle clients, pool size) of a networked cache; zeros for an in-process one.
    fn pool_stats(&self) -> (u64, u64, u64) {
        (0, 0, 0)
    }
}

/// One subject's counters of a limit: the current fixed window's and the one before it. Both keys carry one
/// hash tag, so on Redis Cluster they live in one slot and one script may touch both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterWindows {
    pub current: String,
    pub previous: String,
}

/// Counters for limits (failed logins, sign-ups, edits), shared by every process using the same cache. Apart
/// from the cached values: adding to or clearing a counter advances no fill guard and announces nothing to
/// the near caches. An in-process implementation never evicts a live counter to make room for values.
#[async_trait]
pub trait Counters: Send + Sync {
    /// Adds 1 to each window's `current` counter (a new one starts at 0 with time to live `ttl`, which later
    /// additions never push back), atomically per counter across every process, and reads its `previous`
    /// counter in the same step: (the current count after, the previous count) per window, in order. One
    /// round trip; either every window is counted or the call fails.
    async fn add_reading(
        &self,
        windows: &[CounterWindows],
        ttl: Duration,
    ) -> Result<Vec<(u64, u64)>, CacheError>;
    /// The current counts (0 for a missing counter). One round trip.
    async fn read(&self, keys: &[String]) -> Result<Vec<u64>, CacheError>;
    /// Takes 1 back from each counter (an attempt that turned out not to count), never below 0 and never
    /// creating one. One round trip.
    async fn take_back(&self, keys: &[String]) -> Result<(), CacheError>;
    /// Adds `amount` to one counter only if the sum stays within `limit` (a new counter starts at 0 with
    /// time to live `ttl`, never pushed back), atomically across every process: (added, the count after).
    /// A refused addition changes nothing, so concurrent callers never see one. One round trip.
    async fn add_within(
        &self,
        key: &str,
        amount: u64,
        limit: u64,
        ttl: Duration,
    ) -> Result<(bool, u64), CacheError>;
    /// How many times the server behind the counters may have changed under this process (a connection
    /// lost or made again, a failover, a restart): each may have lost counts. Grows only; in-process
    /// counters never change server (0).
    fn server_changes(&self) -> u64 {
        0
    }
}

/// Why a password is hashed or verified: each purpose has a bcrypt queue of its own, so a flood of one
/// (sign-ups) cannot starve another (logins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashPurpose {
    Login,
    SignUp,
    /// `changePassword` and `resign`.
    Account,
}

/// Password hashing; implementations keep the CPU-heavy work off the async executor.
#[async_trait]
///
/// Every method queues on `purpose`'s bounded queue and answers `RateLimited` at once when it is full.
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, purpose: HashPurpose, password: &str) -> AppResult<String>;
    async fn verify(&self, purpose: HashPurpose, password: &str, hash: &str) -> AppResult<bool>;
    /// Spends the same time as a failed `verify` against a stored hash of cost `cost` (the cost stored hashes
    /// have), so an unknown login cannot be told from a wrong password.
    async fn verify_dummy(&self, purpose: HashPurpose, password: &str, cost: u32) -> AppResult<()>;
    /// Whether `hash` was made at another cost than new hashes get (a login then stores a fresh one).
    fn needs_rehash(&self, hash: &str) -> bool;
    /// The cost `hash` was made at, if it is a bcrypt hash.
    fn cost_of(&self, hash: &str) -> Option<u32>;
    /// The cost new hashes get.
    fn cost(&self) -> u32;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: UserId,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
}

/// Issues and verifies access tokens.
pub trait TokenService: Send + Sync {
    fn issue(
        &self,
        user_id: UserId,
        role: Role,
        now: DateTime<Utc>,
    ) -> AppResult<(String, DateTime<Utc>)>;
    /// `AppError::Unauthenticated` for anything that does not verify.
    fn verify(&self, token: &str) -> AppResult<AccessClaims>;
}

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock, truncated to microseconds (what MariaDB keeps).
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        use chrono::{SubsecRound, Utc};
        Utc::now().trunc_subsecs(6)
    }
}
