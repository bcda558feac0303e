//! Category bans.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::bans::CategoryBan;
use crate::domain::page::{Page, PageRequest};
use crate::domain::{AppResult, CategoryId, NewModAction, UserId};

/// A ban to write.
#[derive(Debug, Clone)]
pub struct NewCategoryBan {
    pub category_id: CategoryId,
    pub user_id: UserId,
    pub reason: Option<String>,
    pub until: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
    pub banned_by: UserId,
    /// The `CATEGORY_BAN` entry, written in the ban's transaction.
    pub log: NewModAction,
}

/// # Errors
/// `Unavailable` / `Internal` as for every repository; `NotFound` for an unknown user.
///
/// `ban` bumps the user's `ban_version` first in its transaction. Post and comment creation update the same
/// row before they check for a ban inside their own transaction, so a ban and a write of the banned user
/// serialise: the write either committed before the ban or sees it and is refused.
#[async_trait]
pub trait BanRepo: Send + Sync {
    /// Bans the user from the category, or replaces the reason and end of their ban there.
    async fn ban(&self, ban: NewCategoryBan) -> AppResult<CategoryBan>;
    /// `true` when a ban in force was lifted; only then is `log` (`CATEGORY_UNBAN`) written, in the same
    /// transaction.
    async fn unban(
        &self,
        category: CategoryId,
        user: UserId,
        at: DateTime<Utc>,
        log: &NewModAction,
    ) -> AppResult<bool>;
    /// The bans of this category (not its descendants') in force at `now`, newest first.
    async fn bans(
        &self,
        category: CategoryId,
        now: DateTime<Utc>,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<CategoryBan>>;
    async fn count_bans(&self, category: CategoryId, now: DateTime<Utc>) -> AppResult<i64>;
    /// Bans in force at `now` on the whole board: (category bans, board-wide blocks).
    async fn count_in_force(&self, now: DateTime<Utc>) -> AppResult<(i64, i64)>;
}
