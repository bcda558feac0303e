//! `Post`, its versions, and post lists.

use std::collections::HashMap;

use crate::graphql::types::datetime::DateTime;
use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, Object, SimpleObject};

use super::category::CategoryNode;
use super::comment::{CommentConnection, CommentTotals, comment_page};
use super::moderation::{Moderation, moderation_for, visible_post};
use super::pagination::{connection, encode_cursor, page_request, post_cursor, post_page_request};
use super::user::UserNode;
use crate::domain::{Post, PostFilter, PostKey, PostOrder, UserId};
use crate::graphql::context::ContextExt;
use crate::graphql::cost::directives::{Cost, ListSize, Size};
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;
use crate::graphql::loaders::{RevisionsOf, ViewerSaved, ViewerVoted, ViewerWatching};
use crate::graphql::viewer_reads::Slot;

/// The order of a list of posts.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "PostOrder")]
pub enum PostOrderValue {
    /// Newest first (the default).
    Newest,
    /// Oldest first.
    Oldest,
    /// Most votes first; ties newest first.
    MostVoted,
}

impl From<PostOrderValue> for PostOrder {
    fn from(order: PostOrderValue) -> Self {
        match order {
            PostOrderValue::Newest => PostOrder::Newest,
            PostOrderValue::Oldest => PostOrder::Oldest,
            PostOrderValue::MostVoted => PostOrder::MostVoted,
        }
    }
}

/// One version of a post.
#[derive(SimpleObject)]
pub struct PostRevision {
    /// The version number: 0 for the original, n after n edits.
    pub version: i32,
    /// The title of this version.
    pub title: String,
    /// The content of this version.
    pub content: String,
    /// `content` as sanitised HTML (docs/markdown.md), rendered when this version was written.
    pub content_html: String,
    /// When this version was written.
    pub created_at: DateTime,
}

/// What a list of posts holds, to count it.
enum PostList {
    Filtered(PostFilter),
    SavedBy(UserId),
}

pub struct PostTotals {
    list: PostList,
}

impl PostTotals {
    /// The totals of a user's saved posts.
    pub fn saved_by(user: UserId) -> Self {
        Self {
            list: PostList::SavedBy(user),
        }
    }
}

#[Object]
impl PostTotals {
    /// All posts of the list (every page). With `search`: exact up to 10 000; a search that matches more
    /// answers 10 001, which means "more than 10 000".
    #[graphql(directive = Cost::apply(1))]
    async fn total_count(&self, ctx: &Context<'_>) -> GqlResult<i64> {
        let board = &ctx.services()?.board;
        match &self.list {
            PostList::Filtered(filter) => board.count_posts(filter).await.gql(),
            PostList::SavedBy(user) => board.count_saved(*user).await.gql(),
        }
    }
}

pub type PostConnection = Connection<String, PostNode, PostTotals>;

/// A page of the posts `filter` selects, resolved through the loaders.
pub async fn post_connection(
    ctx: &Context<'_>,
    filter: PostFilter,
    order: PostOrder,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> GqlResult<PostConnection> {
    let request = post_page_request(first, after, last, before).gql()?;
    let page = ctx
        .services()?
        .board
        .list_posts(&filter, order, &request)
        .await
        .gql()?;
    let posts = ctx
        .loaders()?
        .board
        .load_many(page.items.iter().map(|k: &PostKey| k.id))
        .await
        .gql()?;
    Ok(connection(
        page,
        PostTotals {
            list: PostList::Filtered(filter),
        },
        |k| post_cursor(*k),
        |k| posts.get(&k.id).cloned().map(PostNode),
    ))
}

/// A page of the posts `user` saved, newest save first; cursors carry the save's id. A post the viewer may
/// not see (deleted or removed after the list was read) is skipped.
pub async fn saved_posts(
    ctx: &Context<'_>,
    user: UserId,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> GqlResult<PostConnection> {
    let request = page_request(first, after, last, before).gql()?;
    let page = ctx
        .services()?
        .board
        .saved_page(user, &request)
        .await
        .gql()?;
    let loaded = ctx
        .loaders()?
        .board
        .load_many(page.items.iter().map(|s| s.post))
        .await
        .gql()?;
    let mut posts = HashMap::with_capacity(loaded.len());
    for (id, post) in loaded {
        if let Some(post) = visible_post(ctx, Some(post)).await? {
            posts.insert(id, post);
        }
    }
    Ok(connection(
        page,
        PostTotals::saved_by(user),
        |s| encode_cursor(s.save),
        |s| posts.get(&s.post).cloned().map(PostNode),
    ))
}

#[derive(Clone)]
pub struct PostNode(pub Post);

/// A row that a foreign key guarantees was not found: an internal error (its field then follows the
/// partial-results rules).
pub(crate) fn missing(what: &str, id: impl std::fmt::Display) -> async_graphql::Error {
    crate::graphql::errors::to_gql(&crate::domain::AppError::Internal(format!(
        "{what} {id} is missing"
    )))
}

/// A post: its current version, its author and category, votes and comments.
#[Object(name = "Post")]
impl PostNode {
    /// An opaque global id.
    pub async fn id(&self) -> ID {
        ids::post(self.0.id)
    }

    /// The category the post was written in (a category with posts cannot be deleted).
    async fn category(&self, ctx: &Context<'_>) -> GqlResult<CategoryNode> {
        ctx.loaders()?
            .board
            .load_one(self.0.category_id)
            .await
            .gql()?
            .map(CategoryNode)
            .ok_or_else(|| missing("category", self.0.category_id))
    }

    /// The author; a resigned author is still a `User`, with `name: null`.
    async fn author(&self, ctx: &Context<'_>) -> GqlResult<UserNode> {
        ctx.loaders()?
            .users
            .load_one(self.0.author_id)
            .await
            .gql()?
            .map(UserNode::new)
            .ok_or_else(|| missing("author", self.0.author_id))
    }

    /// Title of the current version.
    async fn title(&self, ctx: &Context<'_>) -> GqlResult<&str> {
        ctx.request()?.budget.charge(self.0.title.len())?;
        Ok(&self.0.title)
    }

    /// Content of the current version.
    async fn content(&self, ctx: &Context<'_>) -> GqlResult<&str> {
        ctx.request()?.budget.charge(self.0.content.len())?;
        Ok(&self.0.content)
    }

    /// Content of the current version as sanitised HTML: CommonMark with GitHub's tables, strikethrough,
    /// task lists and autolinks; `@name` links to the user; images become links (docs/markdown.md).
    async fn content_html(&self, ctx: &Context<'_>) -> GqlResult<&str> {
        ctx.request()?.budget.charge(self.0.content_html.len())?;
        Ok(&self.0.content_html)
    }

    /// The current version: 0 for an unedited post, n after n edits.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// When the post was written (its first version).
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// When the current version was written.
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }

    /// False once deleted (only admins see deleted posts) or removed by a moderator (see `moderation`).
    async fn is_active(&self) -> bool {
        self.0.is_active
    }

    /// The newest `last` versions (at most 50, the default), oldest first.
    #[graphql(directive = ListSize::apply(Size::last_or(super::REVISIONS_MAX as u32)))]
    async fn revisions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many of the newest versions: 0–50, 50 by default.")] last: Option<
            i32,
        >,
    ) -> GqlResult<Vec<PostRevision>> {
        let last = super::revisions_last(last)?;
        let revisions = ctx
            .loaders()?
            .board
            .load_one(RevisionsOf(self.0.id))
            .await
            .gql()?
            .unwrap_or_default();
        let skip = revisions.len().saturating_sub(last);
        // Charged whole, before any is copied into the answer (the fields selected may be fewer).
        let html = ctx.look_ahead().field("contentHtml").exists();
        let text: usize = revisions[skip..]
            .iter()
            .map(|r| {
                r.content.len()
                    + r.title.as_ref().map_or(0, String::len)
                    + if html { r.content_html.len() } else { 0 }
            })
            .sum();
        ctx.request()?.budget.charge(text)?;
        Ok(revisions
            .into_iter()
            .skip(skip)
            .map(|r| PostRevision {
                version: r.version,
                title: r.title.unwrap_or_default(),
                content: r.content,
                content_html: r.content_html,
                created_at: r.created_at.into(),
            })
            .collect())
    }

    /// How many members voted for the post.
    async fn vote_count(&self, ctx: &Context<'_>) -> GqlResult<i64> {
        ctx.request()?.count_slot(ctx, Slot::PostVotes(self.0.id));
        Ok(self.0.vote_count)
    }

    /// Live comments, replies included.
    async fn comment_count(&self) -> i64 {
        self.0.comment_count
    }

    /// False when anonymous.
    async fn viewer_has_voted(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        let slot = Slot::VotedPost(self.0.id);
        let Some(viewer) = ctx.request()?.viewer_for(ctx, slot) else {
            return Ok(false);
        };
        Ok(ctx
            .loaders()?
            .board
            .load_one(ViewerVoted(viewer.id, self.0.id))
            .await
            .gql()?
            .unwrap_or(false))
    }

    /// Whether the viewer saved the post (`User.savedPosts`). False when anonymous.
    async fn viewer_has_saved(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        let slot = Slot::SavedPost(self.0.id);
        let Some(viewer) = ctx.request()?.viewer_for(ctx, slot) else {
            return Ok(false);
        };
        Ok(ctx
            .loaders()?
            .board
            .load_one(ViewerSaved(viewer.id, self.0.id))
            .await
            .gql()?
            .unwrap_or(false))
    }

    /// Whether the viewer watches the post: set by `watchPost`, and automatically when they wrote it or
    /// commented on it, unless they stopped watching it (docs/watching.md). False when anonymous.
    async fn viewer_is_watching(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        let slot = Slot::WatchingPost(self.0.id);
        let Some(viewer) = ctx.request()?.viewer_for(ctx, slot) else {
            return Ok(false);
        };
        Ok(ctx
            .loaders()?
            .board
            .load_one(ViewerWatching(viewer.id, self.0.id))
            .await
            .gql()?
            .unwrap_or(false))
    }

    /// Whether the viewer may edit the post (its author only).
    async fn viewer_can_edit(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        let slot = Slot::CanEdit {
            author: self.0.author_id,
            active: self.0.is_active,
        };
        Ok(ctx
            .request()?
            .viewer_for(ctx, slot)
            .and_then(|viewer| slot.by_rights(viewer))
            .unwrap_or(false))
    }

    /// Whether the viewer may delete the post (its author or an admin).
    async fn viewer_can_delete(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        let slot = Slot::CanDelete {
            author: self.0.author_id,
            active: self.0.is_active,
        };
        Ok(ctx
            .request()?
            .viewer_for(ctx, slot)
            .and_then(|viewer| slot.by_rights(viewer))
            .unwrap_or(false))
    }

    /// A locked post takes no new comments (votes still count).
    async fn locked(&self) -> bool {
        self.0.locked
    }

    /// Why the post was locked; null when it is not locked or no reason was given.
    async fn lock_reason(&self) -> Option<&str> {
        self.0.lock_reason.as_deref().filter(|_| self.0.locked)
    }

    /// Whether a moderator pinned the post to its category (`Category.pinnedPosts`).
    async fn pinned(&self) -> bool {
        self.0.pinned_at.is_some()
    }

    /// What moderators did to the post: for its author, the moderators of its category and admins; null for
    /// everyone else.
    async fn moderation(&self, ctx: &Context<'_>) -> GqlResult<Option<Moderation>> {
        moderation_for(
            ctx,
            self.0.author_id,
            Some(self.0.category_id),
            self.0.removal.as_ref(),
        )
        .await
    }

    /// Live comments, replies included, oldest first (`topLevelOnly`: only the comments on the post
    /// itself; their replies are under `Comment.replies`). A reply whose parent was deleted or removed is
    /// still listed here.
    #[graphql(directive = ListSize::apply(Size::CONNECTION))]
    async fn comments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Forward: at most this many items after `after` (1–100; 20 by default).")]
        first: Option<i32>,
        #[graphql(desc = "Forward: start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Backward: at most this many items before `before` (1–100).")]
        last: Option<i32>,
        #[graphql(desc = "Backward: end before this cursor.")] before: Option<String>,
        #[graphql(
            desc = "Only the comments on the post itself (depth 0), not replies; `totalCount` counts those.",
            default_with = "Some(false)"
        )]
        top_level_only: Option<bool>,
    ) -> GqlResult<CommentConnection> {
        let top_level_only = top_level_only.unwrap_or(false);
        let total = if top_level_only {
            self.0.top_comment_count
        } else {
            self.0.comment_count
        };
        comment_page(
            ctx,
            self.0.id,
            top_level_only,
            CommentTotals::known(total),
            first,
            after,
            last,
            before,
        )
        .await
    }
}
