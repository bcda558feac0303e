//! `Category`: a node of the category tree.

use async_graphql::{Context, ID, Object};

use super::ban::{CategoryBanConnection, category_bans};
use super::moderation::{ModActionConnection, mod_log_connection, visible_post};
use super::post::{PostConnection, PostNode, PostOrderValue, post_connection};
use super::user::UserNode;
use crate::domain::board::{CATEGORY_CHILDREN_MAX, CATEGORY_MODERATORS_MAX};
use crate::domain::moderation::PINNED_MAX;
use crate::domain::{Category, PostOrder};
use crate::graphql::context::ContextExt;
use crate::graphql::cost::directives::{Cost, ListSize, Size};
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;
use crate::graphql::loaders::ViewerWatching;
use crate::graphql::viewer_reads::Slot;

/// The size the cost counts for `Query.categories` and `Category.children`: the most they hold (category
/// writes refuse more, and the lists are cut there should older data hold more).
pub const CATEGORIES_ASSUMED: u32 = CATEGORY_CHILDREN_MAX as u32;

/// The size the cost counts for `Category.moderators`: the most one category has, likewise.
const MODERATORS_ASSUMED: u32 = CATEGORY_MODERATORS_MAX as u32;

#[derive(Clone)]
pub struct CategoryNode(pub Category);

impl CategoryNode {
    /// Its moderators as listed: the first [`CATEGORY_MODERATORS_MAX`].
    fn listed_moderators(&self) -> impl Iterator<Item = &crate::domain::UserId> {
        self.0.moderators.iter().take(CATEGORY_MODERATORS_MAX)
    }
}

/// A category of the tree. Posts belong to one; a category lists its own posts and its descendants'.
#[Object(name = "Category")]
impl CategoryNode {
    /// An opaque global id.
    pub async fn id(&self) -> ID {
        ids::category(self.0.id)
    }

    /// 1–50 characters, unique among siblings.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// 1 for roots, the parent's tier + 1 below.
    async fn tier(&self) -> i32 {
        self.0.tier
    }

    /// The category above; null for a root.
    async fn parent(&self, ctx: &Context<'_>) -> GqlResult<Option<CategoryNode>> {
        let Some(parent) = self.0.parent_id else {
            return Ok(None);
        };
        Ok(ctx
            .loaders()?
            .board
            .load_one(parent)
            .await
            .gql()?
            .map(CategoryNode))
    }

    /// The categories directly below, by name (at most 20).
    // Weight 0: they come from the tree `categories` read (one cached value), not from a read of their own,
    // so a tree asked for many levels deep is not priced at 20 times more per level.
    #[graphql(
        directive = Cost::apply(0),
        directive = ListSize::apply(Size::assumed(CATEGORIES_ASSUMED))
    )]
    async fn children(&self, ctx: &Context<'_>) -> GqlResult<Vec<CategoryNode>> {
        let tree = ctx.services()?.board.category_tree().await.gql()?;
        Ok(tree
            .children(self.0.id)
            .into_iter()
            .take(CATEGORY_CHILDREN_MAX)
            .cloned()
            .map(CategoryNode)
            .collect())
    }

    /// Its moderators, appointed by admins (at most 20); their rights also cover every category below it.
    #[graphql(directive = ListSize::apply(Size::assumed(MODERATORS_ASSUMED)))]
    async fn moderators(&self, ctx: &Context<'_>) -> GqlResult<Vec<UserNode>> {
        let users = ctx
            .loaders()?
            .users
            .load_many(self.listed_moderators().copied())
            .await
            .gql()?;
        Ok(self
            .0
            .moderators
            .iter()
            .take(CATEGORY_MODERATORS_MAX)
            .filter_map(|id| users.get(id).cloned().map(UserNode::new))
            .collect())
    }

    /// Posts moderators pinned to this category, newest pin first (at most 5); those the viewer may not
    /// see (removed or deleted) are left out.
    #[graphql(directive = ListSize::apply(Size::assumed(PINNED_MAX as u32)))]
    async fn pinned_posts(&self, ctx: &Context<'_>) -> GqlResult<Vec<PostNode>> {
        let board = &ctx.services()?.board;
        let ids = board
            .pinned_posts(&[self.0.id])
            .await
            .gql()?
            .remove(&self.0.id)
            .unwrap_or_default();
        let posts = ctx
            .loaders()?
            .board
            .load_many(ids.iter().copied())
            .await
            .gql()?;
        let mut visible = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(post) = visible_post(ctx, posts.get(&id).cloned()).await? {
                visible.push(PostNode(post));
            }
        }
        Ok(visible)
    }

    /// The public moderation log of this category and the categories below it, newest first.
    #[graphql(directive = ListSize::apply(Size::CONNECTION))]
    async fn mod_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Forward: at most this many items after `after` (1–100; 20 by default).")]
        first: Option<i32>,
        #[graphql(desc = "Forward: start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Backward: at most this many items before `before` (1–100).")]
        last: Option<i32>,
        #[graphql(desc = "Backward: end before this cursor.")] before: Option<String>,
    ) -> GqlResult<ModActionConnection> {
        mod_log_connection(ctx, Some(self.0.id), first, after, last, before).await
    }

    /// Whether the viewer watches the category (`watchCategory`): its new posts are theirs to hear of
    /// (docs/watching.md). False when anonymous.
    async fn viewer_is_watching(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        let slot = Slot::WatchingCategory(self.0.id);
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

    /// Posts of this category and of all categories below it.
    #[graphql(directive = ListSize::apply(Size::CONNECTION))]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order of the posts; `NEWEST` by default.")] order_by: Option<
            PostOrderValue,
        >,
        #[graphql(desc = "Forward: at most this many items after `after` (1–100; 20 by default).")]
        first: Option<i32>,
        #[graphql(desc = "Forward: start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Backward: at most this many items before `before` (1–100).")]
        last: Option<i32>,
        #[graphql(desc = "Backward: end before this cursor.")] before: Option<String>,
    ) -> GqlResult<PostConnection> {
        let filter = ctx
            .services()?
            .board
            .post_filter(Some(self.0.id), None, None)
            .await
            .gql()?;
        let order = order_by.map(PostOrder::from).unwrap_or_default();
        post_connection(ctx, filter, order, first, after, last, before).await
    }

    /// The members banned from writing here (and below) now, newest first. Visible to the category's
    /// moderators and to admins; null for everyone else.
    #[graphql(directive = ListSize::apply(Size::CONNECTION))]
    async fn bans(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Forward: at most this many items after `after` (1–100; 20 by default).")]
        first: Option<i32>,
        #[graphql(desc = "Forward: start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Backward: at most this many items before `before` (1–100).")]
        last: Option<i32>,
        #[graphql(desc = "Backward: end before this cursor.")] before: Option<String>,
    ) -> GqlResult<Option<CategoryBanConnection>> {
        category_bans(ctx, self.0.id, first, after, last, before).await
    }
}
