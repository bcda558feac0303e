//! Passwords: sign-up, login and the actor's own password checks, each guess counted by the limiter
//! before bcrypt runs, and taken back when the password was right or never checked.

use std::sync::atomic::Ordering;

use super::{AccountService, AuthSession, LOGIN_MAX_BYTES};
use crate::app::rate_limit::Guessed;
use crate::domain::{AppError, AppResult, Email, NewPassword, Role, User, UserId, UserName};
use crate::domain::{names, validation};
use crate::ports::{Credentials, HashPurpose, NameClash, NewUser, StoredName};
use crate::telemetry::metrics;

fn bad_login() -> AppError {
    AppError::Unauthenticated("unknown login or wrong password".into())
}

impl AccountService {
    /// Signs up. `client` is the caller's address, for the sign-up limit. A taken name (or a look-alike of
    /// one) or email is refused before any hashing; one taken meanwhile is refused by the unique keys.
    pub async fn sign_up(
        &self,
        name: UserName,
        email: Email,
        password: &NewPassword,
        client: &str,
    ) -> AppResult<AuthSession> {
        let name = StoredName::from(name);
        let reserved = self
            .limiter
            .reserve_sign_up(client, self.clock.now())
            .await?;
        match self.users.name_clash(&name).await? {
            Some(NameClash::Taken) => return Err(names::taken()),
            Some(NameClash::LookAlike) => return Err(names::looks_taken()),
            None => {}
        }
        if self
            .users
            .credentials(&name.key, email.as_str())
            .await?
            .is_some()
        {
            return Err(AppError::conflict(
                "email",
                "this email is already registered",
            ));
        }
        let password_hash = match self
            .hasher
            .hash(HashPurpose::SignUp, password.expose())
            .await
        {
            Err(err @ AppError::RateLimited { .. }) => {
                // Never ran: the client's sign-up budget is not spent by a full queue.
                self.limiter.release_sign_up(client, reserved).await;
                return Err(err);
            }
            other => other?,
        };
        let now = self.clock.now();
        let id = self
            .users
            .create(NewUser {
                name,
                email: email.into_string(),
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
        let account = names::name_key(login);
        let email = validation::email_key(login);
        let credentials = self.users.credentials(&account, &email).await?;
        let now = self.clock.now();
        let guessed = match &credentials {
            Some(c) => Guessed::Account(c.user_id),
            None => Guessed::Unknown(&account),
        };
        let reserved = match self.limiter.reserve_guess(guessed, client, now).await {
            Ok(reserved) => reserved,
            Err(err) => {
                metrics::login("rate_limited");
                return Err(err);
            }
        };
        let user = match self.check_login(credentials, password).await {
            Err(err @ AppError::RateLimited { .. }) => {
                // The guess was never checked (bcrypt's queue was full): it does not count.
                self.limiter.release_guess(guessed, client, reserved).await;
                return Err(err);
            }
            other => other?,
        };
        self.limiter
            .release_guess(Guessed::Account(user.id), client, reserved)
            .await;
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
        credentials: Option<Credentials>,
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

    /// Checks the actor's password, counted as a guess against the account and the client like a login.
    async fn check_password(
        &self,
        actor: UserId,
        field: &str,
        password: &str,
        client: &str,
    ) -> AppResult<()> {
        let now = self.clock.now();
        let reserved = self
            .limiter
            .reserve_guess(Guessed::Account(actor), client, now)
            .await?;
        let hash = self.users.password_hash(actor).await?;
        let ok = match hash {
            Some(hash) => {
                match self
                    .verify_stored(HashPurpose::Account, actor, password, &hash)
                    .await
                {
                    Err(err @ AppError::RateLimited { .. }) => {
                        // Never checked (bcrypt's queue was full): the guess does not count.
                        self.limiter
                            .release_guess(Guessed::Account(actor), client, reserved)
                            .await;
                        return Err(err);
                    }
                    other => other?,
                }
            }
            None => false,
        };
        if ok {
            self.limiter
                .release_guess(Guessed::Account(actor), client, reserved)
                .await;
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
        new: &NewPassword,
        client: &str,
    ) -> AppResult<AuthSession> {
        self.check_password(actor, "currentPassword", current, client)
            .await?;
        let hash = self.hasher.hash(HashPurpose::Account, new.expose()).await?;
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
}
