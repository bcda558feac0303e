//! `Category`: a node of the category tree.

use async_graphql::{Context, ID, Object};

use super::ban::{CategoryBanConnection, category_bans};
use super::post::{PostConnection, PostOrderValue, post_connection};
use crate::domain::{Category, PostOrder};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;

#[derive(Clone)]
pub struct CategoryNode(pub Category);

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

    /// The categories directly below, by name.
    async fn children(&self, ctx: &Context<'_>) -> GqlResult<Vec<CategoryNode>> {
        let tree = ctx.services()?.board.category_tree().await.gql()?;
        Ok(tree
            .children(self.0.id)
            .into_iter()
            .cloned()
            .map(CategoryNode)
            .collect())
    }

    /// Posts of this category and of all categories below it.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity")]
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
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity")]
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
