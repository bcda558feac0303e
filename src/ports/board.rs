//! Ports for the board: categories, posts, comments, votes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::page::{Page, PageRequest};
use crate::domain::threads::Placement;
use crate::domain::{
    AppResult, Category, CategoryId, Comment, CommentId, NewModAction, Post, PostFilter, PostId,
    PostKey, PostOrder, Revision, UserId,
};

/// A category change; `parent: Some(None)` moves it to the roots.
#[derive(Debug, Clone, Default)]
pub struct CategoryChange {
    pub name: Option<String>,
    pub parent: Option<Option<CategoryId>>,
}

/// # Errors
/// `Unavailable` / `Internal` as for every repository; `Conflict { field: "name" }` for a sibling with the
/// same name; `delete` answers `Conflict` while the category has children or posts.
///
/// `create` and `update` check the tree rules (`CategoryTree::plan_create` / `plan_update`: no cycle, names
/// unique among siblings, tiers) on the tree as read inside their own transaction, under a lock that
/// serialises every category write, so two concurrent moves cannot both pass a check made against a tree the
/// other is about to change.
#[async_trait]
pub trait CategoryRepo: Send + Sync {
    async fn all(&self) -> AppResult<Vec<Category>>;
    /// `log` is written in the same transaction, its target and category set to the new category.
    async fn create(
        &self,
        name: &str,
        parent: Option<CategoryId>,
        log: &NewModAction,
    ) -> AppResult<CategoryId>;
    /// `log` is written in the same transaction.
    async fn update(
        &self,
        id: CategoryId,
        change: CategoryChange,
        log: &NewModAction,
    ) -> AppResult<()>;
    async fn delete(&self, id: CategoryId) -> AppResult<()>;
}

/// Posts and their versions. Every write is one transaction that also keeps the counters on `post` exact.
#[async_trait]
pub trait PostRepo: Send + Sync {
    /// Writes the post and its version 0. `Forbidden` when the author is banned (at `at`) from the category or
    /// an ancestor: checked inside the write's transaction (see [`crate::ports::BanRepo`]).
    async fn create(
        &self,
        author: UserId,
        category: CategoryId,
        title: &str,
        content: &str,
        at: DateTime<Utc>,
    ) -> AppResult<PostId>;
    /// Appends the next version (never rewrites one); concurrent edits get consecutive versions.
    /// `NotFound` when the post does not exist or is deleted.
    async fn append_version(
        &self,
        id: PostId,
        title: &str,
        content: &str,
        at: DateTime<Utc>,
    ) -> AppResult<i32>;
    /// Soft delete; `false` when it was not active.
    async fn deactivate(&self, id: PostId) -> AppResult<bool>;
    /// Posts (deleted ones too) with their current version. One round trip.
    async fn by_ids(&self, ids: &[PostId]) -> AppResult<Vec<Post>>;
    /// Every version of these posts, oldest first. One round trip.
    async fn revisions(&self, ids: &[PostId]) -> AppResult<Vec<(PostId, Revision)>>;
    /// A page of active posts. One round trip.
    async fn list(
        &self,
        filter: &PostFilter,
        order: PostOrder,
        page: &PageRequest<PostKey>,
    ) -> AppResult<Page<PostKey>>;
    async fn count(&self, filter: &PostFilter) -> AppResult<i64>;
}

#[async_trait]
pub trait CommentRepo: Send + Sync {
    /// `NotFound` when the post does not exist or is deleted; `Locked` when it is locked; `Forbidden` when the
    /// author is banned from its category, checked as [`PostRepo::create`] does. With `parent`: a reply,
    /// placed by [`crate::domain::threads::place_reply`] on that comment as read in the write's
    /// transaction (`InvalidInput` on `parentId` when it is missing, of another post, deleted or removed);
    /// answers where it went. Every counter the comment counts in (its parent's replies, its post's
    /// comments and top-level comments, its author's comments) moves in the same transaction.
    async fn create(
        &self,
        post: PostId,
        parent: Option<CommentId>,
        author: UserId,
        content: &str,
        at: DateTime<Utc>,
    ) -> AppResult<(CommentId, Placement)>;
    async fn append_version(
        &self,
        id: CommentId,
        content: &str,
        at: DateTime<Utc>,
    ) -> AppResult<i32>;
    /// The author's (or an admin's) delete; `false` when it was not active. Moves the counters `create` moved
    /// back (the parent's reply count too, whatever the parent's state).
    async fn deactivate(&self, id: CommentId) -> AppResult<bool>;
    async fn by_ids(&self, ids: &[CommentId]) -> AppResult<Vec<Comment>>;
    async fn revisions(&self, ids: &[CommentId]) -> AppResult<Vec<(CommentId, Revision)>>;
    /// The same page (oldest first) of the active comments of each post (only depth 0 with
    /// `top_level_only`). One round trip for all posts.
    async fn pages_for_posts(
        &self,
        posts: &[PostId],
        page: &PageRequest<i64>,
        top_level_only: bool,
    ) -> AppResult<Vec<(PostId, Page<CommentId>)>>;
    /// The same page (oldest first) of the active direct replies of each comment. One round trip.
    async fn pages_for_parents(
        &self,
        parents: &[CommentId],
        page: &PageRequest<i64>,
    ) -> AppResult<Vec<(CommentId, Page<CommentId>)>>;
    /// A page of a user's active comments, newest first.
    async fn page_for_author(
        &self,
        author: UserId,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<CommentId>>;
    async fn count_for_author(&self, author: UserId) -> AppResult<i64>;
}

/// Votes: at most one per user and post/comment; idempotent both ways.
#[async_trait]
pub trait VoteRepo: Send + Sync {
    /// `true` when a vote was added. `NotFound` when the post does not exist or is deleted; `Forbidden` when the
    /// user is banned (at `at`) from its category or an ancestor.
    async fn vote_post(&self, user: UserId, post: PostId, at: DateTime<Utc>) -> AppResult<bool>;
    /// `true` when a vote was removed.
    async fn unvote_post(&self, user: UserId, post: PostId) -> AppResult<bool>;
    async fn vote_comment(
        &self,
        user: UserId,
        comment: CommentId,
        at: DateTime<Utc>,
    ) -> AppResult<bool>;
    async fn unvote_comment(&self, user: UserId, comment: CommentId) -> AppResult<bool>;
    /// Which of these posts the user has voted.
    async fn voted_posts(&self, user: UserId, posts: &[PostId]) -> AppResult<Vec<PostId>>;
    async fn voted_comments(
        &self,
        user: UserId,
        comments: &[CommentId],
    ) -> AppResult<Vec<CommentId>>;
}
