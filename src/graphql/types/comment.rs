//! `Comment`, its versions, and comment lists.

use crate::graphql::types::datetime::DateTime;
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, SimpleObject};

use super::moderation::{Moderation, moderation_for};
use super::pagination::{connection, encode_cursor, page_request};
use super::post::PostNode;
use super::user::UserNode;
use crate::domain::page::Page;
use crate::domain::{Comment, CommentId, PostId, UserId};
use crate::graphql::context::ContextExt;
use crate::graphql::cost::directives::{Cost, ListSize, Size};
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;
use crate::graphql::loaders::{CommentPage, ReplyPage, RevisionsOf, ViewerVoted};
use crate::graphql::viewer_reads::Slot;

/// One version of a comment.
#[derive(SimpleObject)]
pub struct CommentRevision {
    /// The version number: 0 for the original, n after n edits.
    pub version: i32,
    /// The content of this version.
    pub content: String,
    /// `content` as sanitised HTML (docs/markdown.md), rendered when this version was written.
    pub content_html: String,
    /// When this version was written.
    pub created_at: DateTime,
}

/// Where a comment list's total comes from: known already (a post's counter), or counted on demand.
pub enum CommentTotals {
    Known(i64),
    Author(UserId),
}

impl CommentTotals {
    pub fn known(count: i64) -> Self {
        Self::Known(count)
    }
}

#[Object]
impl CommentTotals {
    /// All comments of the list (every page).
    #[graphql(directive = Cost::apply(1))]
    async fn total_count(&self, ctx: &Context<'_>) -> GqlResult<i64> {
        match self {
            Self::Known(n) => Ok(*n),
            Self::Author(user) => ctx
                .services()?
                .board
                .count_author_comments(*user)
                .await
                .gql(),
        }
    }
}

pub type CommentConnection = Connection<String, CommentNode, CommentTotals>;

async fn resolve(
    ctx: &Context<'_>,
    page: Page<CommentId>,
    totals: CommentTotals,
) -> GqlResult<CommentConnection> {
    let comments = ctx
        .loaders()?
        .board
        .load_many(page.items.iter().copied())
        .await
        .gql()?;
    Ok(connection(
        page,
        totals,
        |id| encode_cursor(id.0),
        |id| comments.get(id).cloned().map(CommentNode),
    ))
}

/// A page of a post's live comments (top-level ones only with `top_level_only`), oldest first; pages of
/// many posts load in one query.
#[allow(clippy::too_many_arguments)]
pub async fn comment_page(
    ctx: &Context<'_>,
    post: PostId,
    top_level_only: bool,
    totals: CommentTotals,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> GqlResult<CommentConnection> {
    let page = page_request(first, after, last, before).gql()?;
    let key = CommentPage {
        post,
        page,
        top_level_only,
    };
    let found = ctx.loaders()?.board.load_one(key).await.gql()?;
    resolve(ctx, found.unwrap_or(Page::empty()), totals).await
}

/// A page of a comment's live direct replies, oldest first; the same page of many comments loads in one
/// query.
async fn reply_page(
    ctx: &Context<'_>,
    comment: &Comment,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> GqlResult<CommentConnection> {
    let page = page_request(first, after, last, before).gql()?;
    let key = ReplyPage {
        parent: comment.id,
        page,
    };
    let found = ctx.loaders()?.board.load_one(key).await.gql()?;
    let totals = CommentTotals::known(comment.reply_count);
    resolve(ctx, found.unwrap_or(Page::empty()), totals).await
}

/// A page of a user's live comments, newest first.
pub async fn author_comments(
    ctx: &Context<'_>,
    author: UserId,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> GqlResult<CommentConnection> {
    let page = page_request(first, after, last, before).gql()?;
    let found = ctx
        .services()?
        .board
        .author_comments(author, &page)
        .await
        .gql()?;
    resolve(ctx, found, CommentTotals::Author(author)).await
}

#[derive(Clone)]
pub struct CommentNode(pub Comment);

/// A comment on a post: its current version, its author and votes.
#[Object(name = "Comment")]
impl CommentNode {
    /// An opaque global id.
    pub async fn id(&self) -> ID {
        ids::comment(self.0.id)
    }

    /// Null when the post was deleted (except for admins).
    async fn post(&self, ctx: &Context<'_>) -> GqlResult<Option<PostNode>> {
        let post = ctx.loaders()?.board.load_one(self.0.post_id).await.gql()?;
        Ok(super::moderation::visible_post(ctx, post)
            .await?
            .map(PostNode))
    }

    /// The author; a resigned author is still a `User`, with `name: null`.
    async fn author(&self, ctx: &Context<'_>) -> GqlResult<UserNode> {
        ctx.loaders()?
            .users
            .load_one(self.0.author_id)
            .await
            .gql()?
            .map(UserNode::new)
            .ok_or_else(|| super::post::missing("author", self.0.author_id))
    }

    /// The comment this one replies to. Null at the top level, and when the viewer may not see that
    /// comment (deleted, or removed by a moderator): its replies stay readable (docs/threads.md).
    async fn parent(&self, ctx: &Context<'_>) -> GqlResult<Option<CommentNode>> {
        let Some(parent) = self.0.parent_id else {
            return Ok(None);
        };
        let found = ctx.loaders()?.board.load_one(parent).await.gql()?;
        Ok(super::moderation::visible_comment(ctx, found)
            .await?
            .map(CommentNode))
    }

    /// How deep in its thread: 0 for a comment on the post itself, its parent's depth + 1 for a reply; at
    /// most 8 (a reply to a depth-8 comment goes beside it).
    async fn depth(&self) -> i32 {
        self.0.depth
    }

    /// Live direct replies, oldest first; `totalCount` counts them all (every page).
    #[graphql(directive = ListSize::apply(Size::CONNECTION))]
    async fn replies(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Forward: at most this many items after `after` (1–100; 20 by default).")]
        first: Option<i32>,
        #[graphql(desc = "Forward: start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Backward: at most this many items before `before` (1–100).")]
        last: Option<i32>,
        #[graphql(desc = "Backward: end before this cursor.")] before: Option<String>,
    ) -> GqlResult<CommentConnection> {
        reply_page(ctx, &self.0, first, after, last, before).await
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

    /// The current version: 0 for an unedited comment, n after n edits.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// When the comment was written (its first version).
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// When the current version was written.
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }

    /// False once deleted (only admins see deleted comments) or removed by a moderator (see `moderation`).
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
    ) -> GqlResult<Vec<CommentRevision>> {
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
            .map(|r| r.content.len() + if html { r.content_html.len() } else { 0 })
            .sum();
        ctx.request()?.budget.charge(text)?;
        Ok(revisions
            .into_iter()
            .skip(skip)
            .map(|r| CommentRevision {
                version: r.version,
                content: r.content,
                content_html: r.content_html,
                created_at: r.created_at.into(),
            })
            .collect())
    }

    /// How many members voted for the comment.
    async fn vote_count(&self, ctx: &Context<'_>) -> GqlResult<i64> {
        ctx.request()?
            .count_slot(ctx, Slot::CommentVotes(self.0.id));
        Ok(self.0.vote_count)
    }

    /// False when anonymous.
    async fn viewer_has_voted(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        let slot = Slot::VotedComment(self.0.id);
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

    /// Whether the viewer may edit the comment (its author only).
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

    /// Whether the viewer may delete the comment (its author or an admin).
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

    /// What moderators did to the comment: for its author, the moderators of its post's category and
    /// admins; null for everyone else.
    async fn moderation(&self, ctx: &Context<'_>) -> GqlResult<Option<Moderation>> {
        let viewer = ctx.request()?.viewer();
        let category = match viewer {
            None => return Ok(None),
            Some(v) if v.id == self.0.author_id => None,
            Some(_) => ctx
                .loaders()?
                .board
                .load_one(self.0.post_id)
                .await
                .gql()?
                .map(|p| p.category_id),
        };
        moderation_for(ctx, self.0.author_id, category, self.0.removal.as_ref()).await
    }
}
