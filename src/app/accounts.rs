//! Accounts: sign-up, login, refresh-token rotation, profile, password, resignation, and the admin's
//! role and state changes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::cache_aside::CacheAside;
use super::rate_limit::{Guessed, Limiter};
use crate::domain::page::{Page, PageRequest};
use crate::domain::validation;
use crate::domain::{AppError, AppResult, LoginEvent, Role, User, UserId, UserStateKind};
use crate::ports::{
    Clock, HashPurpose, NewRefreshSession, NewUser, PasswordHasher, ProfileChange, SessionRepo,
    TokenService, UserRepo,
};
use crate::telemetry::metrics;

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
    limiter: Option<Arc<Limiter>>,
    /// The bcrypt cost of the stored hashes last seen: an unknown login is verified against a dummy hash of
    /// this cost, so it takes what a known one takes even while stored hashes lag behind the configured cost.
    stored_cost: Arc<AtomicU32>,
}

/// The longest login (name or email) looked up; anything longer is refused before a key is made from it.
pub const LOGIN_MAX_BYTES: usize = validation::EMAIL_MAX_BYTES;

fn bad_login() -> AppError {
    AppError::Unauthenticated("unknown login or wrong password".into())
}

fn bad_refresh() -> AppError {
    AppError::Unauthenticated("the refresh token is invalid, expired or revoked".into())
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_refresh_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl AccountService {
    pub fn new(
        users: Arc<dyn UserRepo>,
        sessions: Arc<dyn SessionRepo>,
        hasher: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn TokenService>,
        clock: Arc<dyn Clock>,
        cache: CacheAside,
        refresh_ttl_secs: u64,
    ) -> Self {
        Self {
            users,
            sessions,
            hasher,
            tokens,
            clock,
            cache,
            refresh_ttl: chrono::Duration::seconds(
                i64::try_from(refresh_ttl_secs).unwrap_or(i64::MAX / 2_000),
            ),
            limiter: None,
            stored_cost: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Limits password guesses per account and per client, sign-ups per client.
    pub fn with_limiter(mut self, limiter: Arc<Limiter>) -> Self {
        self.limiter = Some(limiter);
        self
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
            limiter: self.limiter.clone(),
            stored_cost: Arc::clone(&self.stored_cost),
        }
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

    async fn user(&self, id: UserId) -> AppResult<User> {
        self.users_by_ids(&[id])
            .await?
            .remove(&id)
            .ok_or_else(|| AppError::NotFound("no such user".into()))
    }

    async fn forget_user(&self, id: UserId) {
        self.cache
            .invalidate(&[self.cache.key(USER_KIND, id)])
            .await;
    }

    /// The user a verified access token names, if that user may still act (not blocked, not resigned).
    pub fn verify_access_token(&self, token: &str) -> AppResult<UserId> {
        Ok(self.tokens.verify(token)?.user_id)
    }

    /// The claims of a verified access token (a long-lived socket needs its expiry).
    pub fn verify_access_claims(&self, token: &str) -> AppResult<crate::ports::AccessClaims> {
        self.tokens.verify(token)
    }

    pub async fn user_id_by_name(&self, name: &str) -> AppResult<Option<UserId>> {
        self.users.id_by_name_key(&validation::name_key(name)).await
    }

    async fn start_session(
        &self,
        user: User,
        family_id: Option<(i64, String)>,
    ) -> AppResult<AuthSession> {
        let now = self.clock.now();
        let (access_token, expires_at) = self.tokens.issue(user.id, user.role, now)?;
        let refresh_token = new_refresh_token();
        let next = NewRefreshSession {
            user_id: user.id,
            family_id: family_id
                .as_ref()
                .map(|(_, f)| f.clone())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            token_hash: token_hash(&refresh_token),
            created_at: now,
            expires_at: now + self.refresh_ttl,
        };
        match family_id {
            None => self.sessions.create(next).await?,
            Some((old, family)) => {
                if !self.sessions.rotate(old, next, now).await? {
                    // Two clients raced with one refresh token: treat it as reuse.
                    self.sessions.revoke_family(&family, now).await?;
                    return Err(bad_refresh());
                }
            }
        }
        Ok(AuthSession {
            access_token,
            refresh_token,
            expires_at,
            user,
        })
    }

    /// Signs up. `client` is the caller's address, for the sign-up limit. A taken name or email is refused
    /// before any hashing.
    pub async fn sign_up(
        &self,
        name: &str,
        email: &str,
        password: &str,
        client: &str,
    ) -> AppResult<AuthSession> {
        let name = validation::user_name("name", name)?;
        let email = validation::email("email", email)?;
        validation::new_password("password", password)?;
        let name_key = validation::name_key(&name);
        if let Some(limiter) = &self.limiter {
            limiter.reserve_sign_up(client, self.clock.now()).await?;
        }
        if self.users.id_by_name_key(&name_key).await?.is_some() {
            return Err(AppError::conflict("name", "this name is taken"));
        }
        if self.users.credentials(&name_key, &email).await?.is_some() {
            return Err(AppError::conflict(
                "email",
                "this email is already registered",
            ));
        }
        let password_hash = match self.hasher.hash(HashPurpose::SignUp, password).await {
            Err(err @ AppError::RateLimited { .. }) => {
                // Never ran: the client's sign-up budget is not spent by a full queue.
                if let Some(limiter) = &self.limiter {
                    limiter.release_sign_up(client, self.clock.now()).await;
                }
                return Err(err);
            }
            other => other?,
        };
        let now = self.clock.now();
        let id = self
            .users
            .create(NewUser {
                name_key,
                name,
                email,
                password_hash,
                role: Role::User,
                created_at: now,
            })
            .await?;
        // A lookup of this id before it existed may have been remembered as absent.
        self.forget_user(id).await;
        self.users.record_login(id, now).await?;
        // Straight from the database: a new user is cached when someone first reads them.
        let user = self
            .users
            .by_ids(&[id])
            .await?
            .pop()
            .ok_or_else(|| AppError::internal("the new user vanished"))?;
        self.start_session(user, None).await
    }

    /// Logs in by name or email. `client` is the caller's address, for the guess limit.
    ///
    /// The account is looked up first (no hashing), then the guess is counted against that account (by user
    /// id, so its name and email share one limit) and against the client, and only then is bcrypt run.
    pub async fn login(&self, login: &str, password: &str, client: &str) -> AppResult<AuthSession> {
        let login = login.trim();
        if login.len() > LOGIN_MAX_BYTES {
            // By its length alone: nothing about any account is revealed, nothing is looked up or counted.
            metrics::login("invalid");
            return Err(AppError::invalid(
                "login",
                format!("must be at most {LOGIN_MAX_BYTES} bytes"),
            ));
        }
        let account = validation::name_key(login);
        let email = validation::email_key(login);
        let credentials = self.users.credentials(&account, &email).await?;
        let now = self.clock.now();
        let guessed = match &credentials {
            Some(c) => Guessed::Account(c.user_id),
            None => Guessed::Unknown(&account),
        };
        if let Some(limiter) = &self.limiter
            && let Err(err) = limiter.reserve_guess(guessed, client, now).await
        {
            metrics::login("rate_limited");
            return Err(err);
        }
        let user = match self.check_login(credentials, password).await {
            Err(err @ AppError::RateLimited { .. }) => {
                // The guess was never checked (bcrypt's queue was full): it does not count.
                if let Some(limiter) = &self.limiter {
                    limiter.release_guess(guessed, client, now).await;
                }
                return Err(err);
            }
            other => other?,
        };
        if let Some(limiter) = &self.limiter {
            limiter
                .release_guess(Guessed::Account(user.id), client, now)
                .await;
        }
        self.users.record_login(user.id, self.clock.now()).await?;
        metrics::login("success");
        self.start_session(user, None).await
    }

    /// Verifies `password` against a stored hash (remembering its cost for the dummy), and stores a fresh
    /// hash at the configured cost when the stored one was made at another.
    async fn verify_stored(
        &self,
        purpose: HashPurpose,
        user: UserId,
        password: &str,
        hash: &str,
    ) -> AppResult<bool> {
        if let Some(cost) = self.hasher.cost_of(hash) {
            self.stored_cost.store(cost, Ordering::Relaxed);
        }
        let ok = self.hasher.verify(purpose, password, hash).await?;
        if ok && self.hasher.needs_rehash(hash) {
            match self.hasher.hash(purpose, password).await {
                Ok(fresh) => self.users.set_password(user, &fresh).await?,
                Err(err) => {
                    tracing::warn!(error = %err, "could not re-hash a password at the new cost")
                }
            }
        }
        Ok(ok)
    }

    /// The user these credentials belong to, if the password is right and the user may log in.
    async fn check_login(
        &self,
        credentials: Option<crate::ports::Credentials>,
        password: &str,
    ) -> AppResult<User> {
        let Some((user_id, Some(hash))) = credentials.map(|c| (c.user_id, c.password_hash)) else {
            self.hasher
                .verify_dummy(HashPurpose::Login, password, self.dummy_cost())
                .await?;
            metrics::login("invalid");
            return Err(bad_login());
        };
        if !self
            .verify_stored(HashPurpose::Login, user_id, password, &hash)
            .await?
        {
            metrics::login("invalid");
            return Err(bad_login());
        }
        let user = self.user(user_id).await?;
        if user.is_blocked() {
            metrics::login("blocked");
            return Err(AppError::Forbidden("this account is blocked".into()));
        }
        if !user.may_act() {
            metrics::login("invalid");
            return Err(bad_login());
        }
        Ok(user)
    }

    /// Rotates a refresh token. Presenting a token that was already rotated revokes its whole family.
    pub async fn refresh(&self, refresh_token: &str) -> AppResult<AuthSession> {
        let now = self.clock.now();
        let session = self
            .sessions
            .find(&token_hash(refresh_token))
            .await?
            .ok_or_else(|| {
                metrics::token_refresh("invalid");
                bad_refresh()
            })?;
        if session.rotated {
            metrics::token_refresh("reuse");
            tracing::warn!(user_id = %session.user_id, family = %session.family_id, "refresh token reuse; revoking the family");
            self.sessions.revoke_family(&session.family_id, now).await?;
            return Err(bad_refresh());
        }
        if session.revoked || session.expires_at <= now {
            metrics::token_refresh("invalid");
            return Err(bad_refresh());
        }
        let user = self.user(session.user_id).await?;
        if !user.may_act() {
            metrics::token_refresh("invalid");
            self.sessions.revoke_family(&session.family_id, now).await?;
            return Err(bad_refresh());
        }
        let rotated = self
            .start_session(user, Some((session.id, session.family_id)))
            .await;
        metrics::token_refresh(if rotated.is_ok() { "success" } else { "reuse" });
        rotated
    }

    /// Revokes every refresh session of the user ("log out everywhere").
    pub async fn logout_everywhere(&self, actor: UserId) -> AppResult<()> {
        self.sessions.revoke_all(actor, self.clock.now()).await
    }

    /// Ends the session family of this refresh token, whichever token of the family it is (an older,
    /// already rotated one included); `false` when the token is unknown or its family was already ended.
    pub async fn logout(&self, refresh_token: &str) -> AppResult<bool> {
        let Some(session) = self.sessions.find(&token_hash(refresh_token)).await? else {
            return Ok(false);
        };
        let now = self.clock.now();
        let live = self.sessions.family_live(&session.family_id, now).await?;
        self.sessions.revoke_family(&session.family_id, now).await?;
        Ok(live)
    }

    pub async fn update_profile(
        &self,
        actor: UserId,
        name: Option<&str>,
        email: Option<&str>,
    ) -> AppResult<User> {
        let change = ProfileChange {
            name: name
                .map(|n| validation::user_name("name", n).map(|n| (validation::name_key(&n), n)))
                .transpose()?
                .map(|(key, name)| (name, key)),
            email: email.map(|e| validation::email("email", e)).transpose()?,
        };
        if change.name.is_some() || change.email.is_some() {
            self.users.update_profile(actor, change).await?;
            self.forget_user(actor).await;
        }
        self.user(actor).await
    }

    /// Checks the actor's password, counted as a guess against the account and the client like a login.
    async fn check_password(
        &self,
        actor: UserId,
        field: &str,
        password: &str,
        client: &str,
    ) -> AppResult<()> {
        let now = self.clock.now();
        if let Some(limiter) = &self.limiter {
            limiter
                .reserve_guess(Guessed::Account(actor), client, now)
                .await?;
        }
        let hash = self.users.password_hash(actor).await?;
        let ok = match hash {
            Some(hash) => {
                match self
                    .verify_stored(HashPurpose::Account, actor, password, &hash)
                    .await
                {
                    Err(err @ AppError::RateLimited { .. }) => {
                        // Never checked (bcrypt's queue was full): the guess does not count.
                        if let Some(limiter) = &self.limiter {
                            limiter
                                .release_guess(Guessed::Account(actor), client, now)
                                .await;
                        }
                        return Err(err);
                    }
                    other => other?,
                }
            }
            None => false,
        };
        if ok {
            if let Some(limiter) = &self.limiter {
                limiter
                    .release_guess(Guessed::Account(actor), client, now)
                    .await;
            }
            Ok(())
        } else {
            Err(AppError::invalid(field, "the password is wrong"))
        }
    }

    /// Changes the password, signs every other session out, and starts a fresh one.
    pub async fn change_password(
        &self,
        actor: UserId,
        current: &str,
        new: &str,
        client: &str,
    ) -> AppResult<AuthSession> {
        validation::new_password("newPassword", new)?;
        self.check_password(actor, "currentPassword", current, client)
            .await?;
        let hash = self.hasher.hash(HashPurpose::Account, new).await?;
        self.users.set_password(actor, &hash).await?;
        self.sessions.revoke_all(actor, self.clock.now()).await?;
        let user = self.user(actor).await?;
        self.start_session(user, None).await
    }

    /// Resigns: the row stays (content keeps its author) with name, email and password nulled.
    pub async fn resign(&self, actor: UserId, password: &str, client: &str) -> AppResult<User> {
        self.check_password(actor, "password", password, client)
            .await?;
        self.users.resign(actor, self.clock.now()).await?;
        self.forget_user(actor).await;
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

    fn require_admin(actor: &User) -> AppResult<()> {
        if actor.is_admin() {
            Ok(())
        } else {
            Err(AppError::Forbidden("only an admin may do this".into()))
        }
    }

    /// An admin acting on another user (an admin cannot lock themself out).
    async fn admin_target(&self, actor: &User, target: UserId) -> AppResult<User> {
        Self::require_admin(actor)?;
        if actor.id == target {
            return Err(AppError::invalid(
                "userId",
                "an admin cannot change their own role or state",
            ));
        }
        self.user(target).await
    }

    pub async fn set_role(&self, actor: &User, target: UserId, role: Role) -> AppResult<User> {
        self.admin_target(actor, target).await?;
        self.users.set_role(target, role).await?;
        self.forget_user(target).await;
        self.user(target).await
    }

    /// Role change from the command line (how the first admin is made).
    pub async fn set_role_by_name(&self, name: &str, role: Role) -> AppResult<User> {
        let id = self
            .user_id_by_name(name)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no user named {name:?}")))?;
        self.users.set_role(id, role).await?;
        self.forget_user(id).await;
        self.user(id).await
    }

    pub async fn block(
        &self,
        actor: &User,
        target: UserId,
        detail: Option<&str>,
    ) -> AppResult<User> {
        let detail = detail
            .map(|d| validation::text("detail", d, 0, 500, true))
            .transpose()?
            .filter(|d| !d.is_empty());
        self.admin_target(actor, target).await?;
        self.users
            .add_state(
                target,
                UserStateKind::Blocked,
                detail.as_deref(),
                self.clock.now(),
            )
            .await?;
        self.forget_user(target).await;
        self.user(target).await
    }

    pub async fn unblock(&self, actor: &User, target: UserId) -> AppResult<User> {
        self.admin_target(actor, target).await?;
        self.users
            .remove_state(target, UserStateKind::Blocked)
            .await?;
        self.forget_user(target).await;
        self.user(target).await
    }

    pub async fn ping(&self) -> AppResult<()> {
        self.users.ping().await
    }
}
