//! The Relay `Node` interface and `node`/`nodes` resolution.

use async_graphql::{Context, ID, Interface};

use super::UserNode;
use crate::domain::UserId;
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;

#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "An opaque global id."))]
pub enum Node {
    User(UserNode),
}

/// Resolves global ids (any type) in one batch per type. Ids of unknown types resolve to null.
pub async fn resolve(ctx: &Context<'_>, field: &str, raw: &[ID]) -> GqlResult<Vec<Option<Node>>> {
    let mut decoded = Vec::with_capacity(raw.len());
    for id in raw {
        decoded.push(ids::decode(field, id).gql()?);
    }
    let user_ids: Vec<UserId> = decoded
        .iter()
        .filter(|(kind, _)| kind == UserId::KIND)
        .map(|(_, row)| UserId(*row))
        .collect();
    let users = ctx.loaders()?.users.load_many(user_ids).await.gql()?;
    Ok(decoded
        .into_iter()
        .map(|(kind, row)| match kind.as_str() {
            UserId::KIND => users
                .get(&UserId(row))
                .cloned()
                .map(|u| Node::User(UserNode::new(u))),
            _ => None,
        })
        .collect())
}
