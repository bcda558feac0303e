//! Accounts: sign-up, login, refresh-token rotation, profile, password, resignation, and the admin's
//! role and state changes. The service and its user reads are here; the rest is split by concern.

mod admin;
mod passwords;
mod sessions;

pub use admin::{OUTSIDE_CHANGES_EVERY, follow_outside_changes};

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};

use super::cache_aside::CacheAside;
use super::inbox::OutboxWake;
use super::rate_limit::Limiter;
use crate::domain::page::{Page, PageRequest};
use crate::domain::{AppError, AppResult, BoardEvent, Email, LoginEvent, User, UserId, UserName};
use crate::domain::{names, validation};
use crate::ports::{
    Clock, Events, PasswordHasher, ProfileChange, SessionRepo, StoredName, TokenService, UserRepo,
};

const USER_KIND: &str = "user";

/// What sign-up, login, refresh and a password change hand back.
#[derive(Debug, Clone)]
pub struct AuthSession {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

pub struct AccountService {
    users: Arc<dyn UserRepo>,
    sessions: Arc<dyn SessionRepo>,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenService>,
    clock: Arc<dyn Clock>,
    cache: CacheAside,
    refresh_ttl: chrono::Duration,
    /// Counts password guesses per account and per client, sign-ups per client.
    limiter: Arc<Limiter>,
    /// The bcrypt cost of the stored hashes last seen: an unknown login is verified against a dummy hash of
    /// this cost, so it takes what a known one takes even while stored hashes lag behind the configured cost.
    stored_cost: Arc<AtomicU32>,
    /// Nudged after a ban (it notifies the member).
    outbox: OutboxWake,
    events: Arc<dyn Events>,
}

/// The longest login (name or email) looked up; anything longer is refused before a key is made from it.
pub const LOGIN_MAX_BYTES: usize = validation::EMAIL_MAX_BYTES;

/// The ports accounts are kept, checked and signed with.
pub struct AccountPorts {
    pub users: Arc<dyn UserRepo>,
    pub sessions: Arc<dyn SessionRepo>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: Arc<dyn TokenService>,
    pub clock: Arc<dyn Clock>,
    /// Where a change of an account is announced (its open sockets check it at once, on every process).
    pub events: Arc<dyn Events>,
}

impl AccountService {
    pub fn new(
        ports: AccountPorts,
        cache: CacheAside,
        limiter: Arc<Limiter>,
        refresh_ttl: std::time::Duration,
        outbox: OutboxWake,
    ) -> Self {
        let AccountPorts {
            users,
            sessions,
            hasher,
            tokens,
            clock,
            events,
        } = ports;
        Self {
            users,
            sessions,
            hasher,
            tokens,
            clock,
            cache,
            refresh_ttl: chrono::Duration::from_std(refresh_ttl)
                .unwrap_or(chrono::Duration::seconds(i64::MAX / 2_000)),
            limiter,
            stored_cost: Arc::new(AtomicU32::new(0)),
            outbox,
            events,
        }
    }

    /// Starts the dummy hash at the cost of a stored hash (the newest user's), so unknown logins take as long
    /// as known ones from the first request after a restart with another `bcrypt_cost`.
    pub async fn learn_stored_cost(&self) -> AppResult<()> {
        if let Some(hash) = self.users.newest_password_hash().await?
            && let Some(cost) = self.hasher.cost_of(&hash)
        {
            self.stored_cost.store(cost, Ordering::Relaxed);
        }
        Ok(())
    }

    fn dummy_cost(&self) -> u32 {
        match self.stored_cost.load(Ordering::Relaxed) {
            0 => self.hasher.cost(),
            cost => cost,
        }
    }

    /// The same service over another cache.
    pub fn with_cache(&self, cache: CacheAside) -> Self {
        Self {
            users: Arc::clone(&self.users),
            sessions: Arc::clone(&self.sessions),
            hasher: Arc::clone(&self.hasher),
            tokens: Arc::clone(&self.tokens),
            clock: Arc::clone(&self.clock),
            cache,
            refresh_ttl: self.refresh_ttl,
            limiter: Arc::clone(&self.limiter),
            stored_cost: Arc::clone(&self.stored_cost),
            outbox: self.outbox.clone(),
            events: Arc::clone(&self.events),
        }
    }

    /// Users by id from the database, leaving the cache alone (for background work; see
    /// [`crate::app::BoardService::posts_from_primary`]).
    pub async fn users_from_primary(&self, ids: &[UserId]) -> AppResult<HashMap<UserId, User>> {
        let users = self.users.by_ids(ids).await?;
        Ok(users.into_iter().map(|u| (u.id, u)).collect())
    }

    /// Users by id through the cache (the DataLoader's batch function).
    pub async fn users_by_ids(&self, ids: &[UserId]) -> AppResult<HashMap<UserId, User>> {
        let users = Arc::clone(&self.users);
        self.cache
            .load(USER_KIND, ids, |misses| async move {
                let rows = users.by_ids(&misses).await?;
                Ok(rows.into_iter().map(|u| (u.id, u)).collect())
            })
            .await
    }

    /// The cache key of a user's entry: every change of the account deletes it.
    pub fn user_key(&self, id: UserId) -> String {
        self.cache.key(USER_KIND, id)
    }

    async fn user(&self, id: UserId) -> AppResult<User> {
        self.users_by_ids(&[id])
            .await?
            .remove(&id)
            .ok_or_else(|| AppError::NotFound("no such user".into()))
    }

    /// After a change of the account committed: forgets its cache entry, then tells every process (its
    /// open subscription sockets check at once whether it may still act: a ban closes them).
    async fn forget_user(&self, id: UserId) {
        self.cache
            .invalidate(&[self.cache.key(USER_KIND, id)])
            .await;
        crate::app::board::announce(self.events.as_ref(), BoardEvent::account(id)).await;
    }

    pub async fn user_id_by_name(&self, name: &str) -> AppResult<Option<UserId>> {
        self.users.id_by_name_key(&names::name_key(name)).await
    }

    pub async fn update_profile(
        &self,
        actor: UserId,
        name: Option<UserName>,
        email: Option<Email>,
    ) -> AppResult<User> {
        let change = ProfileChange {
            name: name.map(StoredName::from),
            email: email.map(Email::into_string),
        };
        if change.name.is_some() || change.email.is_some() {
            self.users.update_profile(actor, change).await?;
            self.forget_user(actor).await;
        }
        self.user(actor).await
    }

    pub async fn login_history(
        &self,
        user: UserId,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<LoginEvent>> {
        self.users.login_history(user, page).await
    }

    pub async fn count_logins(&self, user: UserId) -> AppResult<i64> {
        self.users.count_logins(user).await
    }

    pub async fn ping(&self) -> AppResult<()> {
        self.users.ping().await
    }
}
