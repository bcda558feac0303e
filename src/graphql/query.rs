//! Root queries.

use async_graphql::{Context, ID, Object};

use super::context::ContextExt;
use super::errors::{AppResultExt, GqlResult};
use super::ids;
use super::types::post::{PostConnection, PostOrderValue, post_connection};
use super::types::{CategoryNode, CommentNode, Node, PostNode, UserNode, node};
use crate::domain::{AppError, PostOrder};

/// The most ids `nodes(ids:)` resolves at once.
const MAX_NODES: usize = 100;

#[derive(Default)]
pub struct Query;

#[Object]
impl Query {
    /// Any object by its global id; null when it does not exist.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Node>> {
        Ok(node::resolve(ctx, "id", &[id]).await?.pop().flatten())
    }

    /// Objects by global id, in the order asked; null for those that do not exist. At most 100, each at
    /// most once (a repeated id would only repeat its answer, multiplying the response).
    #[graphql(complexity = "ids.len().max(1) * child_complexity")]
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> GqlResult<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(AppError::invalid(
                "ids",
                format!("at most {MAX_NODES} ids at once"),
            ))
            .gql();
        }
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        if let Some(repeated) = ids.iter().find(|id| !seen.insert(id.as_str())) {
            return Err(AppError::invalid(
                "ids",
                format!("{} is asked for more than once", repeated.as_str()),
            ))
            .gql();
        }
        node::resolve(ctx, "ids", &ids).await
    }

    /// The signed-in user; null when anonymous.
    async fn viewer(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> {
        Ok(ctx.request()?.actor.clone().map(UserNode::new))
    }

    /// A user by name, ignoring case.
    async fn user(&self, ctx: &Context<'_>, name: String) -> GqlResult<Option<UserNode>> {
        let Some(id) = ctx
            .services()?
            .accounts
            .user_id_by_name(&name)
            .await
            .gql()?
        else {
            return Ok(None);
        };
        Ok(ctx
            .loaders()?
            .users
            .load_one(id)
            .await
            .gql()?
            .map(UserNode::new))
    }

    /// Root categories (tier 1), each with its `children`.
    async fn categories(&self, ctx: &Context<'_>) -> GqlResult<Vec<CategoryNode>> {
        let tree = ctx.services()?.board.category_tree().await.gql()?;
        Ok(tree
            .roots()
            .into_iter()
            .cloned()
            .map(CategoryNode)
            .collect())
    }

    async fn category(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<CategoryNode>> {
        let id = ids::decode_category("id", &id).gql()?;
        Ok(ctx
            .loaders()?
            .board
            .load_one(id)
            .await
            .gql()?
            .map(CategoryNode))
    }

    /// Live posts. `categoryId` includes the category's descendants; `search` matches the current title or
    /// content (case-insensitively in every script; `%` and `_` match literally).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(0) as usize * child_complexity")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        category_id: Option<ID>,
        author_id: Option<ID>,
        search: Option<String>,
        order_by: Option<PostOrderValue>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<PostConnection> {
        let category = category_id
            .map(|id| ids::decode_category("categoryId", &id))
            .transpose()
            .gql()?;
        let author = author_id
            .map(|id| ids::decode_user("authorId", &id))
            .transpose()
            .gql()?;
        let filter = ctx
            .services()?
            .board
            .post_filter(category, author, search.as_deref())
            .await
            .gql()?;
        let order = order_by.map(PostOrder::from).unwrap_or_default();
        post_connection(ctx, filter, order, first, after, last, before).await
    }

    /// A post; null when it does not exist or was deleted (admins still see deleted posts).
    async fn post(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<PostNode>> {
        let id = ids::decode_post("id", &id).gql()?;
        let viewer = ctx.request()?.actor.as_ref();
        let post = ctx.loaders()?.board.load_one(id).await.gql()?;
        Ok(post.filter(|p| p.visible_to(viewer)).map(PostNode))
    }

    async fn comment(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<CommentNode>> {
        let id = ids::decode_comment("id", &id).gql()?;
        let viewer = ctx.request()?.actor.as_ref();
        let comment = ctx.loaders()?.board.load_one(id).await.gql()?;
        Ok(comment.filter(|c| c.visible_to(viewer)).map(CommentNode))
    }
}
