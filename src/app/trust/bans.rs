//! Category bans: a moderator bans a member from writing (posts, comments, votes) in a category and its
//! descendants, until a time or until lifted. The check itself runs inside each write's transaction
//! (`ports::BanRepo`); this is the moderator's side.

use chrono::{DateTime, Utc};

use super::TrustService;
use crate::domain::bans::{self, CategoryBan};
use crate::domain::page::{Page, PageRequest};
use crate::domain::{
    AppError, AppResult, CategoryId, ModActionKind, ModTarget, NewModAction, User, UserId,
    validation,
};
use crate::ports::NewCategoryBan;
use crate::telemetry::metrics;

impl TrustService {
    pub async fn ban_from_category(
        &self,
        actor: &User,
        category: CategoryId,
        target: UserId,
        reason: Option<&str>,
        until: Option<DateTime<Utc>>,
    ) -> AppResult<CategoryBan> {
        let reason = reason
            .map(|r| validation::text("reason", r, 0, 500, true))
            .transpose()?
            .filter(|r| !r.is_empty());
        let now = self.clock.now();
        let until = bans::ban_end("until", until, now)?;
        self.existing_category("categoryId", category).await?;
        self.require_moderator(actor, category).await?;
        self.check_ban_target(actor, target, category).await?;
        let mut log = NewModAction::new(
            ModActionKind::CategoryBan,
            actor.id,
            ModTarget::User(target),
            now,
        )
        .in_category(category)
        .because(reason.clone());
        log.expires_at = until;
        let ban = self
            .bans
            .ban(NewCategoryBan {
                category_id: category,
                user_id: target,
                reason,
                until,
                at: now,
                banned_by: actor.id,
                log,
            })
            .await?;
        metrics::moderation("category_ban");
        self.outbox.written();
        self.backlog_changed();
        Ok(ban)
    }

    /// Whom `actor` may ban from `category`: not themself, not an admin (admins moderate everywhere), and
    /// — unless `actor` is an admin — no one who moderates `category` (a moderator of a child category
    /// does not ban the moderator of its parent).
    pub(super) async fn check_ban_target(
        &self,
        actor: &User,
        target: UserId,
        category: CategoryId,
    ) -> AppResult<()> {
        if actor.id == target {
            return Err(AppError::invalid("userId", "you cannot ban yourself"));
        }
        let target = self
            .accounts
            .users_by_ids(&[target])
            .await?
            .remove(&target)
            .ok_or_else(|| AppError::NotFound("no such user".into()))?;
        if target.is_admin() {
            return Err(AppError::Forbidden(
                "admins moderate everywhere and cannot be banned from a category".into(),
            ));
        }
        if !actor.is_admin() && self.may_moderate(&target, category).await? {
            return Err(AppError::Forbidden(
                "this user moderates the category: only an admin can ban them from it".into(),
            ));
        }
        Ok(())
    }

    /// `true` when a ban in force was lifted.
    pub async fn unban_from_category(
        &self,
        actor: &User,
        category: CategoryId,
        target: UserId,
    ) -> AppResult<bool> {
        self.existing_category("categoryId", category).await?;
        self.require_moderator(actor, category).await?;
        let now = self.clock.now();
        let log = NewModAction::new(
            ModActionKind::CategoryUnban,
            actor.id,
            ModTarget::User(target),
            now,
        )
        .in_category(category);
        let lifted = self.bans.unban(category, target, now, &log).await?;
        if lifted {
            metrics::moderation("category_unban");
        }
        Ok(lifted)
    }

    /// The bans in force of one category, newest first; `None` unless `actor` moderates it.
    pub async fn category_bans(
        &self,
        actor: Option<&User>,
        category: CategoryId,
        page: &PageRequest<i64>,
    ) -> AppResult<Option<Page<CategoryBan>>> {
        let Some(actor) = actor else { return Ok(None) };
        if !self.may_moderate(actor, category).await? {
            return Ok(None);
        }
        self.bans
            .bans(category, self.clock.now(), page)
            .await
            .map(Some)
    }

    pub async fn count_category_bans(&self, category: CategoryId) -> AppResult<i64> {
        self.bans.count_bans(category, self.clock.now()).await
    }
}
