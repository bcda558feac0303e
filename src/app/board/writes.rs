//! The board's writes: checked against the domain rules and the limits, committed on the primary, then
//! the keys they touched are forgotten and the event announced.

use super::reads::gone_for;
use super::{BoardService, require_admin, require_member};
use crate::domain::board as rules;
use crate::domain::{
    AppError, AppResult, BoardEvent, Category, CategoryId, CategoryName, Comment, CommentContent,
    CommentId, EventKind, ModActionKind, ModTarget, NewModAction, Post, PostContent, PostId,
    PostTitle, User,
};
use crate::ports::CategoryChange;

impl BoardService {
    // ---- posts -------------------------------------------------------------------------------------------

    pub async fn create_post(
        &self,
        actor: &User,
        category: CategoryId,
        title: &PostTitle,
        content: &PostContent,
    ) -> AppResult<Post> {
        require_member(actor)?;
        if self.category_tree().await?.get(category).is_none() {
            return Err(AppError::invalid("categoryId", "no such category"));
        }
        self.reserve_create(actor).await?;
        let id = self
            .posts
            .primary()
            .create(
                actor.id,
                category,
                title.as_str(),
                content.as_str(),
                self.clock.now(),
            )
            .await?;
        self.forget_new_post(id, actor.id).await;
        self.forget_newest(category).await;
        self.outbox.written();
        let created = self.post(id).await;
        // After the read above refilled the cache: subscribers resolving the event hit it.
        self.announce(BoardEvent::post(EventKind::PostCreated, id, Some(category)))
            .await;
        created
    }

    /// Appends a new version; only the author may.
    pub async fn update_post(
        &self,
        actor: &User,
        id: PostId,
        title: &PostTitle,
        content: &PostContent,
    ) -> AppResult<Post> {
        require_member(actor)?;
        let post = self.post_to_change(actor, id).await?;
        if !rules::may_edit(actor, post.author_id, post.is_active) {
            return Err(AppError::Forbidden(
                "only the author may edit a post".into(),
            ));
        }
        self.reserve_edit(actor).await?;
        self.posts
            .primary()
            .append_version(id, title.as_str(), content.as_str(), self.clock.now())
            .await?;
        self.forget_post(id, true).await;
        self.outbox.written();
        let edited = self.post(id).await;
        self.announce(BoardEvent::post(
            EventKind::PostEdited,
            id,
            Some(post.category_id),
        ))
        .await;
        edited
    }

    /// Soft delete by the author or an admin.
    pub async fn delete_post(&self, actor: &User, id: PostId) -> AppResult<PostId> {
        require_member(actor)?;
        let post = self.post_to_change(actor, id).await?;
        if !rules::may_delete(actor, post.author_id, post.is_active) {
            return Err(AppError::Forbidden(
                "only the author or an admin may delete a post".into(),
            ));
        }
        if !self.posts.primary().deactivate(id).await? {
            // A delete or a removal committed after the check above: answered as if it came first.
            let found = self.posts.primary().by_ids(&[id]).await?;
            let removed = found.first().is_some_and(|p| p.removal.is_some());
            return Err(gone_for(actor, post.author_id, removed, "post"));
        }
        self.forget_post_listing(id, post.category_id).await;
        self.announce(BoardEvent::post(
            EventKind::PostDeleted,
            id,
            Some(post.category_id),
        ))
        .await;
        Ok(id)
    }

    // ---- comments ----------------------------------------------------------------------------------------

    /// A comment on `post`, or with `parent` a reply to that comment of the same post (placed as
    /// docs/threads.md says).
    pub async fn create_comment(
        &self,
        actor: &User,
        post: PostId,
        parent: Option<CommentId>,
        content: &CommentContent,
    ) -> AppResult<Comment> {
        require_member(actor)?;
        self.reserve_create(actor).await?;
        let (id, placement) = self
            .comments
            .primary()
            .create(post, parent, actor.id, content.as_str(), self.clock.now())
            .await?;
        // The comment also made its author watch the post (unless they chose otherwise).
        let watching = self.watching_post_key(post, actor.id);
        self.forget_comment_and(id, Some((post, placement.parent)), true, Some(watching))
            .await;
        self.outbox.written();
        let created = self.comment(id).await;
        self.announce(BoardEvent::comment(EventKind::CommentCreated, post, id))
            .await;
        created
    }

    pub async fn update_comment(
        &self,
        actor: &User,
        id: CommentId,
        content: &CommentContent,
    ) -> AppResult<Comment> {
        require_member(actor)?;
        let comment = self.comment_to_change(actor, id).await?;
        if !rules::may_edit(actor, comment.author_id, comment.is_active) {
            return Err(AppError::Forbidden(
                "only the author may edit a comment".into(),
            ));
        }
        self.reserve_edit(actor).await?;
        self.comments
            .primary()
            .append_version(id, content.as_str(), self.clock.now())
            .await?;
        self.forget_comment(id, None, true).await;
        self.outbox.written();
        let edited = self.comment(id).await;
        self.announce(BoardEvent::comment(
            EventKind::CommentEdited,
            comment.post_id,
            id,
        ))
        .await;
        edited
    }

    pub async fn delete_comment(&self, actor: &User, id: CommentId) -> AppResult<CommentId> {
        require_member(actor)?;
        let comment = self.comment_to_change(actor, id).await?;
        if !rules::may_delete(actor, comment.author_id, comment.is_active) {
            return Err(AppError::Forbidden(
                "only the author or an admin may delete a comment".into(),
            ));
        }
        if !self.comments.primary().deactivate(id).await? {
            // A delete or a removal committed after the check above: answered as if it came first.
            let found = self.comments.primary().by_ids(&[id]).await?;
            let removed = found.first().is_some_and(|c| c.removal.is_some());
            return Err(gone_for(actor, comment.author_id, removed, "comment"));
        }
        self.forget_comment(id, Some((comment.post_id, comment.parent_id)), false)
            .await;
        self.announce(BoardEvent::comment(
            EventKind::CommentDeleted,
            comment.post_id,
            id,
        ))
        .await;
        Ok(id)
    }

    // ---- votes -------------------------------------------------------------------------------------------

    pub async fn vote_post(&self, actor: &User, post: PostId, up: bool) -> AppResult<Post> {
        require_member(actor)?;
        let changed = if up {
            self.votes
                .primary()
                .vote_post(actor.id, post, self.clock.now())
                .await?
        } else {
            self.votes.primary().unvote_post(actor.id, post).await?
        };
        if changed {
            self.forget_post_vote(post, actor.id).await;
        }
        let voted = self.post(post).await;
        if changed {
            self.announce(BoardEvent::post(EventKind::PostVoted, post, None))
                .await;
        }
        voted
    }

    pub async fn vote_comment(
        &self,
        actor: &User,
        comment: CommentId,
        up: bool,
    ) -> AppResult<Comment> {
        require_member(actor)?;
        let changed = if up {
            self.votes
                .primary()
                .vote_comment(actor.id, comment, self.clock.now())
                .await?
        } else {
            self.votes
                .primary()
                .unvote_comment(actor.id, comment)
                .await?
        };
        if changed {
            self.forget_comment_vote(comment, actor.id).await;
        }
        let voted = self.comment(comment).await;
        if changed && let Ok(voted) = &voted {
            self.announce(BoardEvent::comment(
                EventKind::CommentVoted,
                voted.post_id,
                comment,
            ))
            .await;
        }
        voted
    }

    // ---- categories (admin) ------------------------------------------------------------------------------

    pub async fn create_category(
        &self,
        actor: &User,
        name: &CategoryName,
        parent: Option<CategoryId>,
    ) -> AppResult<Category> {
        require_admin(actor)?;
        let log = self.category_change_log(actor, None, format!("created {name}"));
        let id = self.categories.create(name.as_str(), parent, &log).await?;
        self.forget_categories().await;
        self.category(id).await
    }

    /// Renames and/or moves a category (`parent: Some(None)` makes it a root). Tiers below follow.
    pub async fn update_category(
        &self,
        actor: &User,
        id: CategoryId,
        name: Option<&CategoryName>,
        parent: Option<Option<CategoryId>>,
    ) -> AppResult<Category> {
        require_admin(actor)?;
        let name = name.map(|name| name.as_str().to_owned());
        let what = match (&name, parent) {
            (Some(name), None) => format!("renamed to {name}"),
            (None, _) => "moved".to_owned(),
            (Some(name), Some(_)) => format!("renamed to {name} and moved"),
        };
        let log = self.category_change_log(actor, Some(id), what);
        let change = CategoryChange { name, parent };
        self.categories.update(id, change, &log).await?;
        self.forget_categories().await;
        self.category(id).await
    }

    pub async fn delete_category(&self, actor: &User, id: CategoryId) -> AppResult<CategoryId> {
        require_admin(actor)?;
        self.categories.delete(id).await?;
        self.forget_categories().await;
        Ok(id)
    }

    /// The log entry of a category change (`None`: the category being created, filled in by the write).
    fn category_change_log(
        &self,
        actor: &User,
        id: Option<CategoryId>,
        what: String,
    ) -> NewModAction {
        NewModAction {
            kind: ModActionKind::CategoryChange,
            moderator: actor.id,
            target: id.map(ModTarget::Category),
            category: id,
            reason: Some(what),
            expires_at: None,
            created_at: self.clock.now(),
        }
    }

    async fn category(&self, id: CategoryId) -> AppResult<Category> {
        self.category_tree()
            .await?
            .get(id)
            .cloned()
            .ok_or_else(|| AppError::NotFound("no such category".into()))
    }
}
