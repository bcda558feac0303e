//! Root queries.

use async_graphql::{Context, ID, Object};

use super::context::ContextExt;
use super::cost::CostLedger;
use super::errors::{AppResultExt, GqlResult};
use super::ids;
use super::types::moderation::{
    ModActionConnection, mod_log_connection, visible_comment, visible_post,
};
use super::types::post::{PostConnection, PostOrderValue, post_connection};
use super::types::rate_limit::RateLimit;
use super::types::report::{ReportConnection, ReportStatusValue, report_connection};
use super::types::{CategoryNode, CommentNode, Node, PostNode, UserNode, node};
use crate::app::rate_limit::Spender;
use crate::domain::{AppError, PostOrder};
use crate::graphql::cost::directives::{ListSize, Size};

/// The most ids `nodes(ids:)` resolves at once.
const MAX_NODES: usize = 100;

#[derive(Default)]
pub struct Query;

/// Reads. Anonymous clients may run every one of them.
#[Object]
impl Query {
    /// Any object by its global id; null when it does not exist.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An opaque global id.")] id: ID,
    ) -> GqlResult<Option<Node>> {
        Ok(node::resolve(ctx, "id", &[id]).await?.pop().flatten())
    }

    /// Objects by global id, in the order asked; null for those that do not exist. At most 100, each at
    /// most once (a repeated id would only repeat its answer, multiplying the response).
    #[graphql(directive = ListSize::apply(Size::assumed(MAX_NODES as u32)))]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Opaque global ids (at most 100); the answer has one entry per id, null where there is nothing."
        )]
        ids: Vec<ID>,
    ) -> GqlResult<Vec<Option<Node>>> {
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
        Ok(ctx.request()?.viewer().cloned().map(UserNode::new))
    }

    /// A user by name, ignoring case.
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's name, ignoring case.")] name: String,
    ) -> GqlResult<Option<UserNode>> {
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

    /// Root categories (tier 1), each with its `children` (at most 20).
    #[graphql(directive = ListSize::apply(Size::assumed(super::types::category::CATEGORIES_ASSUMED)))]
    async fn categories(&self, ctx: &Context<'_>) -> GqlResult<Vec<CategoryNode>> {
        let tree = ctx.services()?.board.category_tree().await.gql()?;
        Ok(tree
            .roots()
            .into_iter()
            .take(crate::domain::board::CATEGORY_CHILDREN_MAX)
            .cloned()
            .map(CategoryNode)
            .collect())
    }

    /// A category by id; null when there is none.
    async fn category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An opaque global id.")] id: ID,
    ) -> GqlResult<Option<CategoryNode>> {
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
    #[graphql(directive = ListSize::apply(Size::CONNECTION))]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only posts of this category and of the categories below it.")]
        category_id: Option<ID>,
        #[graphql(desc = "Only posts of this user.")] author_id: Option<ID>,
        #[graphql(
            desc = "Only posts whose current title or content contains this text, ignoring case (1–100 characters; `%` and `_` match literally)."
        )]
        search: Option<String>,
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

    /// A post; null when it does not exist, was deleted (admins still see deleted posts) or was removed by a
    /// moderator (its author, the category's moderators and admins still see it).
    async fn post(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An opaque global id.")] id: ID,
    ) -> GqlResult<Option<PostNode>> {
        let id = ids::decode_post("id", &id).gql()?;
        let post = ctx.loaders()?.board.load_one(id).await.gql()?;
        Ok(visible_post(ctx, post).await?.map(PostNode))
    }

    /// The public moderation log, newest first: of a category and the categories below it, or (without
    /// `categoryId`) of the whole board. Who acted (`moderator`) is shown to moderators and admins only.
    #[graphql(directive = ListSize::apply(Size::CONNECTION))]
    async fn mod_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only entries of this category or one below it; absent: the whole log.")]
        category_id: Option<ID>,
        #[graphql(desc = "Forward: at most this many items after `after` (1–100; 20 by default).")]
        first: Option<i32>,
        #[graphql(desc = "Forward: start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Backward: at most this many items before `before` (1–100).")]
        last: Option<i32>,
        #[graphql(desc = "Backward: end before this cursor.")] before: Option<String>,
    ) -> GqlResult<ModActionConnection> {
        let category = category_id
            .map(|id| ids::decode_category("categoryId", &id))
            .transpose()
            .gql()?;
        mod_log_connection(ctx, category, first, after, last, before).await
    }

    /// The report queue, oldest first: the reports of the categories the viewer moderates (or of
    /// `categoryId` and the categories below it); every category for admins. `FORBIDDEN` for anyone else.
    #[allow(clippy::too_many_arguments)]
    #[graphql(directive = ListSize::apply(Size::CONNECTION))]
    async fn reports(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which reports: `OPEN` by default (and when null).",
            default_with = "Some(ReportStatusValue::Open)"
        )]
        status: Option<ReportStatusValue>,
        #[graphql(desc = "Only reports of this category or one below it.")] category_id: Option<ID>,
        #[graphql(desc = "Forward: at most this many items after `after` (1–100; 20 by default).")]
        first: Option<i32>,
        #[graphql(desc = "Forward: start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Backward: at most this many items before `before` (1–100).")]
        last: Option<i32>,
        #[graphql(desc = "Backward: end before this cursor.")] before: Option<String>,
    ) -> GqlResult<ReportConnection> {
        let category = category_id
            .map(|id| ids::decode_category("categoryId", &id))
            .transpose()
            .gql()?;
        let status = status.unwrap_or(ReportStatusValue::Open);
        report_connection(ctx, status.into(), category, first, after, last, before).await
    }

    /// The points budget of the viewer, or of the anonymous client: what this operation cost and what is
    /// left. Costs 1 point, whatever it selects.
    async fn rate_limit(&self, ctx: &Context<'_>) -> GqlResult<RateLimit> {
        if let Ok(ledger) = ctx.data::<std::sync::Arc<CostLedger>>() {
            let (cost, points) = ledger.latest_in_data().await;
            return Ok(RateLimit::new(cost, &points));
        }
        // Outside an HTTP request (a socket): the budget as it stands, nothing spent.
        let request = ctx.request()?;
        let spender = match request.viewer() {
            Some(actor) => Spender::Member(actor.id),
            None => Spender::Client(request.client_ip.clone()),
        };
        let points = ctx
            .services()?
            .limiter
            .points_left(&spender, chrono::Utc::now())
            .await;
        Ok(RateLimit::new(0, &points))
    }

    /// A comment by id; null when there is none, or when it is deleted and the viewer is not an admin.
    async fn comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An opaque global id.")] id: ID,
    ) -> GqlResult<Option<CommentNode>> {
        let id = ids::decode_comment("id", &id).gql()?;
        let comment = ctx.loaders()?.board.load_one(id).await.gql()?;
        Ok(visible_comment(ctx, comment).await?.map(CommentNode))
    }
}
