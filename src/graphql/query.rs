//! Root queries.

use async_graphql::{Context, ID, Object};

use super::context::ContextExt;
use super::errors::{AppResultExt, GqlResult};
use super::types::{Node, UserNode, node};
use crate::domain::AppError;

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

    /// Objects by global id, in the order asked; null for those that do not exist. At most 100.
    #[graphql(complexity = "ids.len().max(1) * child_complexity")]
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> GqlResult<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(AppError::invalid(
                "ids",
                format!("at most {MAX_NODES} ids at once"),
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
}
