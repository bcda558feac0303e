//! The admin's changes to other users (role, block), and the command line's role change, which the running
//! servers follow ([`follow_outside_changes`]).

use std::sync::Weak;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::AccountService;
use crate::domain::{
    AppError, AppResult, ModActionKind, ModTarget, NewModAction, Role, User, UserId, UserStateKind,
};
use crate::domain::{bans, validation};

impl AccountService {
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
        let log = NewModAction::new(
            ModActionKind::SetRole,
            actor.id,
            ModTarget::User(target),
            self.clock.now(),
        )
        .because(Some(role.as_db_name().to_owned()));
        self.users.set_role(target, role, Some(&log)).await?;
        self.forget_user(target).await;
        self.user(target).await
    }

    /// Role change from the command line (how the first admin is made).
    pub async fn set_role_by_name(&self, name: &str, role: Role) -> AppResult<User> {
        let id = self
            .user_id_by_name(name)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no user named {name:?}")))?;
        self.users.set_role(id, role, None).await?;
        // Noted for the running servers ([`follow_outside_changes`]): this process cannot reach an
        // in-process cache, and its own deletion below, in Redis, may fail, with nobody left to make it again.
        self.users
            .record_outside_change(id, self.clock.now())
            .await?;
        self.forget_user(id).await;
        self.user(id).await
    }

    /// Blocks `target`, until `until` when given (the block then ends by itself: see [`crate::domain::UserState::until`]).
    pub async fn block(
        &self,
        actor: &User,
        target: UserId,
        detail: Option<&str>,
        until: Option<DateTime<Utc>>,
    ) -> AppResult<User> {
        let detail = detail
            .map(|d| validation::text("detail", d, 0, 500, true))
            .transpose()?
            .filter(|d| !d.is_empty());
        let now = self.clock.now();
        let until = bans::ban_end("until", until, now)?;
        self.admin_target(actor, target).await?;
        let mut log = NewModAction::new(ModActionKind::Ban, actor.id, ModTarget::User(target), now)
            .because(detail.clone());
        log.expires_at = until;
        self.users
            .add_state(
                target,
                UserStateKind::Blocked,
                detail.as_deref(),
                now,
                until,
                Some(&log),
            )
            .await?;
        self.forget_user(target).await;
        self.outbox.written();
        self.user(target).await
    }

    pub async fn unblock(&self, actor: &User, target: UserId) -> AppResult<User> {
        self.admin_target(actor, target).await?;
        let log = NewModAction::new(
            ModActionKind::Unban,
            actor.id,
            ModTarget::User(target),
            self.clock.now(),
        );
        self.users
            .remove_state(target, UserStateKind::Blocked, Some(&log))
            .await?;
        self.forget_user(target).await;
        self.user(target).await
    }
}

/// How often a server looks for changes made from the command line.
pub const OUTSIDE_CHANGES_EVERY: Duration = Duration::from_secs(1);

/// Forgets the cached users that the command line changed (`board set-role`), every `every`, for as long as
/// `accounts` lives. The command cannot reach an in-process cache, and its deletion in Redis can fail (a
/// Redis paused or failing over) with no process left to make it again: either way a role given or taken
/// from the command line would wait out the cache's TTL. A running server makes the deletion itself, and
/// again until it lands, as every deletion of its own. It reads the changes noted since its last look (from
/// the first at start: a few deletions of entries not cached yet).
pub async fn follow_outside_changes(accounts: Weak<AccountService>, every: Duration) {
    let mut last = 0;
    loop {
        {
            let Some(accounts) = accounts.upgrade() else {
                return;
            };
            match accounts.users.outside_changes_after(last).await {
                Ok(changes) => {
                    for (n, user) in changes {
                        accounts.forget_user(user).await;
                        last = n;
                    }
                }
                Err(err) => {
                    tracing::debug!(error = %err, "could not read the changes made from the command line")
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}
