//! Moderation use cases: moderators per category, removal and restoration of posts and comments, locks,
//! pins and the public log. Each write checks the actor's rights ([`rights`]), commits the change with
//! its log entry in one transaction, then forgets exactly what a delete forgets and announces the change.
//! The rules: docs/moderation.md.

pub mod rights;

use std::collections::HashMap;

use super::{BoardService, CATEGORIES, TREE_ID, require_admin, require_member};
use crate::domain::moderation::{self as rules, PINNED_MAX};
use crate::domain::page::{Page, PageRequest};
use crate::domain::{
    AppError, AppResult, BoardEvent, Category, CategoryId, Comment, CommentId, EventKind,
    ModAction, ModActionId, ModActionKind, ModTarget, NewModAction, Post, PostId, Removal, User,
    UserId,
};
use crate::telemetry::metrics;

impl BoardService {
    /// Admin only: appoints (`moderator: true`) or dismisses a moderator of `category` (and so of every
    /// category below it). Repeating it changes nothing and logs nothing.
    pub async fn set_category_moderator(
        &self,
        actor: &User,
        category: CategoryId,
        user: UserId,
        moderator: bool,
    ) -> AppResult<Category> {
        require_admin(actor)?;
        if self.category_tree().await?.get(category).is_none() {
            return Err(AppError::NotFound("no such category".into()));
        }
        let log = NewModAction::new(
            ModActionKind::SetModerator,
            actor.id,
            ModTarget::User(user),
            self.clock.now(),
        )
        .in_category(category)
        .because(Some(
            if moderator { "appointed" } else { "dismissed" }.to_owned(),
        ));
        if self
            .moderation
            .set_moderator(category, user, moderator, &log)
            .await?
        {
            // The moderators travel with the tree.
            self.cache
                .invalidate(&[self.cache.key(CATEGORIES, TREE_ID)])
                .await;
        }
        self.category_tree()
            .await?
            .get(category)
            .cloned()
            .ok_or_else(|| AppError::NotFound("no such category".into()))
    }

    // ---- removal -----------------------------------------------------------------------------------------

    /// A moderator of the post's category removes it: it leaves every list, count and search as a deleted
    /// post does, and only its author, the moderators and admins still see it. Idempotent.
    pub async fn remove_post(&self, actor: &User, id: PostId, reason: &str) -> AppResult<Post> {
        require_member(actor)?;
        let reason = rules::required_reason("reason", reason)?;
        let post = self.post(id).await?;
        self.require_moderator(actor, post.category_id).await?;
        let at = self.clock.now();
        let removal = Removal {
            reason: Some(reason.clone()),
            removed_at: at,
            removed_by: actor.id,
        };
        let log = NewModAction::new(ModActionKind::Remove, actor.id, ModTarget::Post(id), at)
            .in_category(post.category_id)
            .because(Some(reason));
        if self.moderation.remove_post(id, &removal, &log).await? {
            metrics::content_removed("post");
            self.forget_post_listing(id, post.category_id).await;
            self.outbox.written();
            self.announce(BoardEvent::post(
                EventKind::PostDeleted,
                id,
                Some(post.category_id),
            ))
            .await;
        }
        self.post(id).await
    }

    /// Undoes a removal (never an author's delete). Idempotent.
    pub async fn restore_post(&self, actor: &User, id: PostId) -> AppResult<Post> {
        require_member(actor)?;
        let post = self.post(id).await?;
        self.require_moderator(actor, post.category_id).await?;
        let log = NewModAction::new(
            ModActionKind::Restore,
            actor.id,
            ModTarget::Post(id),
            self.clock.now(),
        )
        .in_category(post.category_id);
        if self.moderation.restore_post(id, &log).await? {
            metrics::content_restored("post");
            self.forget_post_listing(id, post.category_id).await;
            self.announce(BoardEvent::post(
                EventKind::PostEdited,
                id,
                Some(post.category_id),
            ))
            .await;
        }
        self.post(id).await
    }

    pub async fn remove_comment(
        &self,
        actor: &User,
        id: CommentId,
        reason: &str,
    ) -> AppResult<Comment> {
        require_member(actor)?;
        let reason = rules::required_reason("reason", reason)?;
        let (comment, category) = self.comment_with_category(id).await?;
        self.require_moderator(actor, category).await?;
        let at = self.clock.now();
        let removal = Removal {
            reason: Some(reason.clone()),
            removed_at: at,
            removed_by: actor.id,
        };
        let log = NewModAction::new(ModActionKind::Remove, actor.id, ModTarget::Comment(id), at)
            .in_category(category)
            .because(Some(reason));
        if self.moderation.remove_comment(id, &removal, &log).await? {
            metrics::content_removed("comment");
            self.forget_comment(id, Some((comment.post_id, comment.parent_id)), false)
                .await;
            self.outbox.written();
            self.announce(BoardEvent::comment(
                EventKind::CommentDeleted,
                comment.post_id,
                id,
            ))
            .await;
        }
        self.any_comment(id).await
    }

    pub async fn restore_comment(&self, actor: &User, id: CommentId) -> AppResult<Comment> {
        require_member(actor)?;
        let (comment, category) = self.comment_with_category(id).await?;
        self.require_moderator(actor, category).await?;
        let log = NewModAction::new(
            ModActionKind::Restore,
            actor.id,
            ModTarget::Comment(id),
            self.clock.now(),
        )
        .in_category(category);
        if self.moderation.restore_comment(id, &log).await? {
            metrics::content_restored("comment");
            self.forget_comment(id, Some((comment.post_id, comment.parent_id)), false)
                .await;
            self.announce(BoardEvent::comment(
                EventKind::CommentEdited,
                comment.post_id,
                id,
            ))
            .await;
        }
        self.any_comment(id).await
    }

    // ---- locks and pins ----------------------------------------------------------------------------------

    /// A locked post takes no new comments (votes still count). Idempotent.
    pub async fn lock_post(
        &self,
        actor: &User,
        id: PostId,
        locked: bool,
        reason: Option<&str>,
    ) -> AppResult<Post> {
        require_member(actor)?;
        let reason = rules::optional_reason("reason", reason)?;
        let post = self.live_post(id).await?;
        self.require_moderator(actor, post.category_id).await?;
        let kind = if locked {
            ModActionKind::Lock
        } else {
            ModActionKind::Unlock
        };
        let log = NewModAction::new(kind, actor.id, ModTarget::Post(id), self.clock.now())
            .in_category(post.category_id)
            .because(reason.clone());
        if self
            .moderation
            .lock_post(id, locked, reason.as_deref(), &log)
            .await?
        {
            self.forget_post(id, false).await;
            self.announce(BoardEvent::post(
                EventKind::PostEdited,
                id,
                Some(post.category_id),
            ))
            .await;
        }
        self.post(id).await
    }

    /// Pins a post to its category (at most [`PINNED_MAX`]; another is `CONFLICT`), or unpins it.
    pub async fn pin_post(&self, actor: &User, id: PostId, pinned: bool) -> AppResult<Post> {
        require_member(actor)?;
        let post = self.post(id).await?;
        if pinned && !post.is_active {
            return Err(AppError::NotFound("no such post".into()));
        }
        self.require_moderator(actor, post.category_id).await?;
        let kind = if pinned {
            ModActionKind::Pin
        } else {
            ModActionKind::Unpin
        };
        let at = self.clock.now();
        let log = NewModAction::new(kind, actor.id, ModTarget::Post(id), at)
            .in_category(post.category_id);
        if self.moderation.pin_post(id, pinned, at, &log).await? {
            self.forget_post(id, false).await;
            self.announce(BoardEvent::post(
                EventKind::PostEdited,
                id,
                Some(post.category_id),
            ))
            .await;
        }
        self.post(id).await
    }

    /// The pinned posts of each category (ids, newest pin first; removed and deleted ones too: the
    /// caller shows what its viewer may see). One round trip for all categories.
    pub async fn pinned_posts(
        &self,
        categories: &[CategoryId],
    ) -> AppResult<HashMap<CategoryId, Vec<PostId>>> {
        let mut pinned: HashMap<CategoryId, Vec<PostId>> = HashMap::new();
        for (category, post) in self.moderation.pinned_posts(categories).await? {
            let list = pinned.entry(category).or_default();
            if list.len() < PINNED_MAX as usize {
                list.push(post);
            }
        }
        Ok(pinned)
    }

    // ---- the log -----------------------------------------------------------------------------------------

    /// A page of the public log, newest first: of a category and its descendants, or of the whole board.
    pub async fn mod_log(
        &self,
        category: Option<CategoryId>,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<ModAction>> {
        let categories = self.log_categories(category).await?;
        self.moderation.log_page(categories.as_deref(), page).await
    }

    /// Log entries by id (immutable, so read straight from the primary, one round trip for all).
    pub async fn mod_actions_by_ids(
        &self,
        ids: &[ModActionId],
    ) -> AppResult<HashMap<ModActionId, ModAction>> {
        Ok(self
            .moderation
            .actions_by_ids(ids)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect())
    }

    pub async fn count_mod_log(&self, category: Option<CategoryId>) -> AppResult<i64> {
        let categories = self.log_categories(category).await?;
        self.moderation.log_count(categories.as_deref()).await
    }

    async fn log_categories(
        &self,
        category: Option<CategoryId>,
    ) -> AppResult<Option<Vec<CategoryId>>> {
        let Some(category) = category else {
            return Ok(None);
        };
        let tree = self.category_tree().await?;
        if tree.get(category).is_none() {
            return Err(AppError::invalid("categoryId", "no such category"));
        }
        Ok(Some(tree.with_descendants(category)))
    }

    // ---- helpers -----------------------------------------------------------------------------------------

    /// A comment (removed or deleted too) and its post's category.
    async fn comment_with_category(&self, id: CommentId) -> AppResult<(Comment, CategoryId)> {
        let comment = self.any_comment(id).await?;
        let category = self
            .category_of(comment.post_id)
            .await?
            .ok_or_else(|| AppError::NotFound("no such comment".into()))?;
        Ok((comment, category))
    }

    async fn any_comment(&self, id: CommentId) -> AppResult<Comment> {
        self.comments_by_ids(&[id])
            .await?
            .remove(&id)
            .ok_or_else(|| AppError::NotFound("no such comment".into()))
    }
}
