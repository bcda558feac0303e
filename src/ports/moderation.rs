//! The port for moderation: moderators, removals, locks, pins and the moderation log. Every write takes
//! the log entry it records and writes both in one transaction (docs/moderation.md).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::page::{Page, PageRequest};
use crate::domain::{
    AppResult, CategoryId, CommentId, ModAction, ModActionId, NewModAction, PostId, Removal, UserId,
};

/// # Errors
/// `Unavailable` / `Internal` as for every repository. A write that finds its post or comment missing or
/// deleted by its author answers `NotFound`. Writes answer `Ok(false)` (and write no log entry) when the
/// row was already in the wanted state, so repeating one — or two moderators doing the same at once — is
/// harmless and logged once.
#[async_trait]
pub trait ModerationRepo: Send + Sync {
    /// Appoints (`moderator: true`) or dismisses a moderator of `category`. `NotFound` for an unknown
    /// category or user.
    async fn set_moderator(
        &self,
        category: CategoryId,
        user: UserId,
        moderator: bool,
        log: &NewModAction,
    ) -> AppResult<bool>;
    /// Takes the post out of every list and count (as a delete does) and records the removal.
    async fn remove_post(
        &self,
        id: PostId,
        removal: &Removal,
        log: &NewModAction,
    ) -> AppResult<bool>;
    /// Undoes a removal; `NotFound` for a post deleted by its author.
    async fn restore_post(&self, id: PostId, log: &NewModAction) -> AppResult<bool>;
    async fn remove_comment(
        &self,
        id: CommentId,
        removal: &Removal,
        log: &NewModAction,
    ) -> AppResult<bool>;
    async fn restore_comment(&self, id: CommentId, log: &NewModAction) -> AppResult<bool>;
    async fn lock_post(
        &self,
        id: PostId,
        locked: bool,
        reason: Option<&str>,
        log: &NewModAction,
    ) -> AppResult<bool>;
    /// Pins or unpins; a pin reserves one of its category's `PINNED_MAX` places in the same transaction
    /// (`Conflict` when they are taken), so concurrent pins never exceed it.
    async fn pin_post(
        &self,
        id: PostId,
        pinned: bool,
        at: DateTime<Utc>,
        log: &NewModAction,
    ) -> AppResult<bool>;
    /// The pinned posts (active or not) of each category, newest pin first. One round trip.
    async fn pinned_posts(&self, categories: &[CategoryId])
    -> AppResult<Vec<(CategoryId, PostId)>>;
    /// A page of the log, newest first; `categories: None` is the whole log.
    async fn log_page(
        &self,
        categories: Option<&[CategoryId]>,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<ModAction>>;
    async fn log_count(&self, categories: Option<&[CategoryId]>) -> AppResult<i64>;
    /// Log entries by id (unknown ids are absent). One round trip.
    async fn actions_by_ids(&self, ids: &[ModActionId]) -> AppResult<Vec<ModAction>>;
}
