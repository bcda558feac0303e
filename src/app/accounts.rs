//! Accounts: sign-up, login, refresh-token rotation, profile, password, resignation, and the admin's
//! role and state changes.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::cache_aside::CacheAside;
use super::rate_limit::LoginLimiter;
use crate::domain::page::{Page, PageRequest};
use crate::domain::validation;
use crate::domain::{AppError, AppResult, LoginEvent, Role, User, UserId, UserStateKind};
use crate::ports::{
    Clock, NewRefreshSession, NewUser, PasswordHasher, ProfileChange, SessionRepo, TokenService,
    UserRepo,
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
    limiter: Option<Arc<LoginLimiter>>,
}

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
        }
    }

    /// Limits failed logins per account and per client.
    pub fn with_login_limiter(mut self, limiter: LoginLimiter) -> Self {
        self.limiter = Some(Arc::new(limiter));
        self
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

    pub async fn sign_up(&self, name: &str, email: &str, password: &str) -> AppResult<AuthSession> {
        let name = validation::user_name("name", name)?;
        let email = validation::email("email", email)?;
        validation::new_password("password", password)?;
        let password_hash = self.hasher.hash(password).await?;
        let now = self.clock.now();
        let id = self
            .users
            .create(NewUser {
                name_key: validation::name_key(&name),
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

    /// Logs in by name or email. `client` is the caller's address, for the failed-login limit.
    pub async fn login(&self, login: &str, password: &str, client: &str) -> AppResult<AuthSession> {
        let login = login.trim();
        let account = validation::name_key(login);
        let now = self.clock.now();
        if let Some(limiter) = &self.limiter
            && let Err(err) = limiter.check(&account, client, now).await
        {
            metrics::login("rate_limited");
            return Err(err);
        }
        let outcome = self.check_login(login, &account, password).await;
        if let Some(limiter) = &self.limiter {
            match &outcome {
                Ok(_) => limiter.reset(&account, now).await,
                Err(AppError::Unauthenticated(_)) => {
                    limiter.record_failure(&account, client, now).await
                }
                Err(_) => {}
            }
        }
        let user = outcome?;
        self.users.record_login(user.id, self.clock.now()).await?;
        metrics::login("success");
        self.start_session(user, None).await
    }

    /// The user these credentials belong to, if they are right and the user may log in.
    async fn check_login(&self, login: &str, account: &str, password: &str) -> AppResult<User> {
        let credentials = self
            .users
            .credentials(account, &login.to_lowercase())
            .await?;
        let Some((user_id, Some(hash))) = credentials.map(|c| (c.user_id, c.password_hash)) else {
            self.hasher.verify_dummy(password).await;
            metrics::login("invalid");
            return Err(bad_login());
        };
        if !self.hasher.verify(password, &hash).await? {
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

    /// Revokes the session of this refresh token; `false` when there was no live session for it.
    pub async fn logout(&self, refresh_token: &str) -> AppResult<bool> {
        self.sessions
            .revoke(&token_hash(refresh_token), self.clock.now())
            .await
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

    async fn check_password(&self, actor: UserId, field: &str, password: &str) -> AppResult<()> {
        let hash = self.users.password_hash(actor).await?;
        let ok = match hash {
            Some(hash) => self.hasher.verify(password, &hash).await?,
            None => false,
        };
        if ok {
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
    ) -> AppResult<AuthSession> {
        validation::new_password("newPassword", new)?;
        self.check_password(actor, "currentPassword", current)
            .await?;
        let hash = self.hasher.hash(new).await?;
        self.users.set_password(actor, &hash).await?;
        self.sessions.revoke_all(actor, self.clock.now()).await?;
        let user = self.user(actor).await?;
        self.start_session(user, None).await
    }

    /// Resigns: the row stays (content keeps its author) with name, email and password nulled.
    pub async fn resign(&self, actor: UserId, password: &str) -> AppResult<User> {
        self.check_password(actor, "password", password).await?;
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
