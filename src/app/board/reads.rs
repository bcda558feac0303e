//! The board's reads: by id through the cache (filled from the primary), lists and counts routed
//! ([`super::routed`]). docs/request-context.md.

use std::collections::HashMap;
use std::sync::Arc;

use super::{
    BoardService, CATEGORIES, COMMENT, COMMENT_REVISIONS, POST, POST_REVISIONS, SEARCH_COUNT_CAP,
    TREE_ID, group_revisions,
};
use crate::domain::board::{self as rules, PostFilter};
use crate::domain::page::{Page, PageRequest};
use crate::domain::{
    AppError, AppResult, CategoryId, CategoryTree, Comment, CommentId, Post, PostId, PostKey,
    PostOrder, Revision, User, UserId,
};

impl BoardService {
    pub async fn category_tree(&self) -> AppResult<CategoryTree> {
        let repo = Arc::clone(&self.categories);
        let mut found = self
            .cache
            .load(CATEGORIES, &[TREE_ID], |_| async move {
                let categories = repo.all().await?;
                Ok(vec![(TREE_ID, CategoryTree { categories })])
            })
            .await?;
        Ok(found.remove(TREE_ID).unwrap_or_default())
    }

    pub async fn posts_by_ids(&self, ids: &[PostId]) -> AppResult<HashMap<PostId, Post>> {
        let repo = Arc::clone(self.posts.primary());
        self.cache
            .load(POST, ids, |misses| async move {
                Ok(repo
                    .by_ids(&misses)
                    .await?
                    .into_iter()
                    .map(|p| (p.id, p))
                    .collect())
            })
            .await
    }

    pub async fn comments_by_ids(
        &self,
        ids: &[CommentId],
    ) -> AppResult<HashMap<CommentId, Comment>> {
        let repo = Arc::clone(self.comments.primary());
        self.cache
            .load(COMMENT, ids, |misses| async move {
                Ok(repo
                    .by_ids(&misses)
                    .await?
                    .into_iter()
                    .map(|c| (c.id, c))
                    .collect())
            })
            .await
    }

    pub async fn post_revisions(
        &self,
        ids: &[PostId],
    ) -> AppResult<HashMap<PostId, Vec<Revision>>> {
        let repo = Arc::clone(self.posts.primary());
        self.cache
            .load(POST_REVISIONS, ids, |misses| async move {
                Ok(group_revisions(repo.revisions(&misses).await?))
            })
            .await
    }

    pub async fn comment_revisions(
        &self,
        ids: &[CommentId],
    ) -> AppResult<HashMap<CommentId, Vec<Revision>>> {
        let repo = Arc::clone(self.comments.primary());
        self.cache
            .load(COMMENT_REVISIONS, ids, |misses| async move {
                Ok(group_revisions(repo.revisions(&misses).await?))
            })
            .await
    }

    /// The filter of a post list: a category means that category and all its descendants.
    pub async fn post_filter(
        &self,
        category: Option<CategoryId>,
        author: Option<UserId>,
        search: Option<&str>,
    ) -> AppResult<PostFilter> {
        let search = search.map(rules::search_term).transpose()?;
        let category_ids = match category {
            None => None,
            Some(id) => Some(self.category_tree().await?.with_descendants(id)),
        };
        Ok(PostFilter {
            category_ids,
            author_id: author,
            search,
        })
    }

    pub async fn list_posts(
        &self,
        filter: &PostFilter,
        order: PostOrder,
        page: &PageRequest<PostKey>,
    ) -> AppResult<Page<PostKey>> {
        if let Some(first) = self.newest_first_page(filter, order, page).await? {
            return Ok(first);
        }
        if filter.search.is_some() {
            return self.search.read(|r| r.page(filter, order, page)).await;
        }
        self.posts.read(|r| r.list(filter, order, page)).await
    }

    /// From counters, or for a search exact up to [`SEARCH_COUNT_CAP`] (beyond: `SEARCH_COUNT_CAP + 1`).
    pub async fn count_posts(&self, filter: &PostFilter) -> AppResult<i64> {
        if let Some(total) = self.newest_total(filter).await? {
            return Ok(total);
        }
        if filter.search.is_some() {
            return self
                .search
                .read(|r| r.count(filter, SEARCH_COUNT_CAP))
                .await;
        }
        self.posts.read(|r| r.count(filter)).await
    }

    /// One page of the live replies of each comment in `parents` (one query for all of them). Not cached:
    /// docs/threads.md.
    pub async fn reply_pages(
        &self,
        parents: &[CommentId],
        page: &PageRequest<i64>,
    ) -> AppResult<HashMap<CommentId, Page<CommentId>>> {
        Ok(self
            .comments
            .read(|r| r.pages_for_parents(parents, page))
            .await?
            .into_iter()
            .collect())
    }

    pub async fn author_comments(
        &self,
        author: UserId,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<CommentId>> {
        self.comments
            .read(|r| r.page_for_author(author, page))
            .await
    }

    pub async fn count_author_comments(&self, author: UserId) -> AppResult<i64> {
        self.comments.read(|r| r.count_for_author(author)).await
    }

    pub(super) async fn post(&self, id: PostId) -> AppResult<Post> {
        self.posts_by_ids(&[id])
            .await?
            .remove(&id)
            .ok_or_else(|| AppError::NotFound("no such post".into()))
    }

    pub(super) async fn live_post(&self, id: PostId) -> AppResult<Post> {
        self.post(id).await.and_then(|p| {
            if p.is_active {
                Ok(p)
            } else {
                Err(AppError::NotFound("no such post".into()))
            }
        })
    }

    /// The post `actor` asks to change: live, or — for its author, who still sees it — `FORBIDDEN` once a
    /// moderator removed it (anyone else: `NOT_FOUND`, as for a deleted post).
    pub(super) async fn post_to_change(&self, actor: &User, id: PostId) -> AppResult<Post> {
        let post = self.post(id).await?;
        if !post.is_active {
            return Err(gone_for(
                actor,
                post.author_id,
                post.removal.is_some(),
                "post",
            ));
        }
        Ok(post)
    }

    /// The comment `actor` asks to change, as [`Self::post_to_change`].
    pub(super) async fn comment_to_change(
        &self,
        actor: &User,
        id: CommentId,
    ) -> AppResult<Comment> {
        let comment = self
            .comments_by_ids(&[id])
            .await?
            .remove(&id)
            .ok_or_else(|| AppError::NotFound("no such comment".into()))?;
        if !comment.is_active {
            return Err(gone_for(
                actor,
                comment.author_id,
                comment.removal.is_some(),
                "comment",
            ));
        }
        Ok(comment)
    }

    pub(super) async fn comment(&self, id: CommentId) -> AppResult<Comment> {
        self.comments_by_ids(&[id])
            .await?
            .remove(&id)
            .ok_or_else(|| AppError::NotFound("no such comment".into()))
            .and_then(|c| {
                if c.is_active {
                    Ok(c)
                } else {
                    Err(AppError::NotFound("no such comment".into()))
                }
            })
    }
}

/// Reads straight from the primary that leave the caches alone: for background work (the notification
/// fan-out), whose reads must see the committed write and must neither depend on nor change what requests
/// find cached.
impl BoardService {
    pub async fn posts_from_primary(&self, ids: &[PostId]) -> AppResult<HashMap<PostId, Post>> {
        let posts = self.posts.primary().by_ids(ids).await?;
        Ok(posts.into_iter().map(|p| (p.id, p)).collect())
    }

    pub async fn comments_from_primary(
        &self,
        ids: &[CommentId],
    ) -> AppResult<HashMap<CommentId, Comment>> {
        let comments = self.comments.primary().by_ids(ids).await?;
        Ok(comments.into_iter().map(|c| (c.id, c)).collect())
    }

    /// The post's versions, oldest first.
    pub async fn post_revisions_from_primary(&self, id: PostId) -> AppResult<Vec<Revision>> {
        let rows = self.posts.primary().revisions(&[id]).await?;
        Ok(rows.into_iter().map(|(_, r)| r).collect())
    }

    /// The comment's versions, oldest first.
    pub async fn comment_revisions_from_primary(&self, id: CommentId) -> AppResult<Vec<Revision>> {
        let rows = self.comments.primary().revisions(&[id]).await?;
        Ok(rows.into_iter().map(|(_, r)| r).collect())
    }
}

/// Why inactive content cannot be changed, as `actor` may learn it: its author is told a moderator removed it.
pub(super) fn gone_for(actor: &User, author: UserId, removed: bool, what: &str) -> AppError {
    if removed && actor.id == author {
        AppError::Forbidden(format!(
            "a moderator removed this {what}: it can no longer be changed"
        ))
    } else {
        AppError::NotFound(format!("no such {what}"))
    }
}
