//! The port for a member's saved posts and watches (docs/watching.md).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::page::{Page, PageRequest};
use crate::domain::{AppResult, CategoryId, PostId, UserId};

/// One saved post of a list: the save's own id (the list's order and cursor) and the post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedPost {
    pub save: i64,
    pub post: PostId,
}

/// # Errors
/// `Unavailable` / `Internal` as for every repository. Writes are idempotent: saving a saved post (also two
/// saves racing) or unsaving an unsaved one changes nothing and is no error.
#[async_trait]
pub trait SaveRepo: Send + Sync {
    /// `true` when the save was added.
    async fn save(&self, user: UserId, post: PostId, at: DateTime<Utc>) -> AppResult<bool>;
    /// `true` when a save was removed.
    async fn unsave(&self, user: UserId, post: PostId) -> AppResult<bool>;
    /// Which of these posts the user saved. One round trip.
    async fn saved(&self, user: UserId, posts: &[PostId]) -> AppResult<Vec<PostId>>;
    /// A page of the user's saved posts that are active, newest save first, keyed by the save's id. One
    /// round trip over an index on (user, save).
    async fn page(&self, user: UserId, page: &PageRequest<i64>) -> AppResult<Page<SavedPost>>;
    /// How many active posts the user saved.
    async fn count(&self, user: UserId) -> AppResult<i64>;
}

/// # Errors
/// `Unavailable` / `Internal` as for every repository. Writes are idempotent.
///
/// A watch of a post is a choice stored both ways: `watching = false` is kept (not deleted) so that the
/// automatic watch of a later comment, which only adds a row where there is none, does not undo it.
#[async_trait]
pub trait WatchRepo: Send + Sync {
    /// Records the user's explicit choice about the post (replacing an automatic one).
    async fn watch_post(
        &self,
        user: UserId,
        post: PostId,
        watching: bool,
        at: DateTime<Utc>,
    ) -> AppResult<()>;
    /// Starts or stops watching the category.
    async fn watch_category(
        &self,
        user: UserId,
        category: CategoryId,
        watching: bool,
        at: DateTime<Utc>,
    ) -> AppResult<()>;
    /// Which of these posts the user watches. One round trip.
    async fn watching_posts(&self, user: UserId, posts: &[PostId]) -> AppResult<Vec<PostId>>;
    /// Which of these categories the user watches. One round trip.
    async fn watching_categories(
        &self,
        user: UserId,
        categories: &[CategoryId],
    ) -> AppResult<Vec<CategoryId>>;
}
