//! Sessions: access tokens, refresh-token rotation (reuse revokes the family), and logging out.

use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{AccountService, AuthSession};
use crate::domain::{AppError, AppResult, User, UserId};
use crate::ports::NewRefreshSession;
use crate::telemetry::metrics;

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
    /// The user a verified access token names, if that user may still act (not blocked, not resigned).
    pub fn verify_access_token(&self, token: &str) -> AppResult<UserId> {
        Ok(self.tokens.verify(token)?.user_id)
    }

    /// The claims of a verified access token (a long-lived socket needs its expiry).
    pub fn verify_access_claims(&self, token: &str) -> AppResult<crate::ports::AccessClaims> {
        self.tokens.verify(token)
    }

    pub(super) async fn start_session(
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
}
