//! The Relay `Node` interface and `node`/`nodes` resolution.

use async_graphql::{Context, ID, Interface};

use super::moderation::{ModActionNode, visible_comment, visible_post};
use super::{CategoryNode, CommentNode, PostNode, UserNode};
use crate::domain::{CategoryId, CommentId, ModActionId, NotificationId, PostId, ReportId, UserId};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;

/// An object with an opaque global id: `node(id:)` and `nodes(ids:)` find any of them.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "An opaque global id."))]
pub enum Node {
    User(UserNode),
    Category(CategoryNode),
    Post(PostNode),
    Comment(CommentNode),
    ModAction(ModActionNode),
    Report(super::report::ReportNode),
    Notification(super::notification::NotificationNode),
}

/// Resolves global ids of any type, one batch per type. Unknown ids, unknown types, and posts
/// or comments the viewer may not see (deleted ones for anyone but admins; removed ones as
/// docs/moderation.md says), and reports for anyone but the moderators of their category, resolve to null.
pub async fn resolve(ctx: &Context<'_>, field: &str, raw: &[ID]) -> GqlResult<Vec<Option<Node>>> {
    let mut decoded = Vec::with_capacity(raw.len());
    for id in raw {
        decoded.push(ids::decode(field, id).gql()?);
    }
    let of_kind = |kind: &str| -> Vec<i64> {
        decoded
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, row)| *row)
            .collect()
    };
    let loaders = ctx.loaders()?;
    let (users, categories, posts, comments) = futures_join(
        loaders
            .users
            .load_many(of_kind(UserId::KIND).into_iter().map(UserId)),
        loaders
            .board
            .load_many(of_kind(CategoryId::KIND).into_iter().map(CategoryId)),
        loaders
            .board
            .load_many(of_kind(PostId::KIND).into_iter().map(PostId)),
        loaders
            .board
            .load_many(of_kind(CommentId::KIND).into_iter().map(CommentId)),
    )
    .await;
    let (users, categories, posts, comments) = (
        users.gql()?,
        categories.gql()?,
        posts.gql()?,
        comments.gql()?,
    );
    // Rare: after the others, in a batch of its own.
    let actions = loaders
        .board
        .load_many(of_kind(ModActionId::KIND).into_iter().map(ModActionId))
        .await
        .gql()?;
    // A member's own notifications only: one batch, none read for the anonymous. The viewer is read only
    // when notifications are asked for (reading it makes the answer the viewer's own).
    let asked: Vec<NotificationId> = of_kind(NotificationId::KIND)
        .into_iter()
        .map(NotificationId)
        .collect();
    let viewer = if asked.is_empty() {
        None
    } else {
        ctx.request()?.viewer().map(|a| a.id)
    };
    let notification_ids = match viewer {
        Some(_) => asked,
        None => Vec::new(),
    };
    let notifications = ctx
        .services()?
        .inbox
        .by_ids(&notification_ids)
        .await
        .gql()?;
    let mut nodes = Vec::with_capacity(decoded.len());
    for (kind, row) in decoded {
        nodes.push(match kind.as_str() {
            UserId::KIND => users
                .get(&UserId(row))
                .cloned()
                .map(|u| Node::User(UserNode::new(u))),
            CategoryId::KIND => categories
                .get(&CategoryId(row))
                .cloned()
                .map(|c| Node::Category(CategoryNode(c))),
            PostId::KIND => visible_post(ctx, posts.get(&PostId(row)).cloned())
                .await?
                .map(|p| Node::Post(PostNode(p))),
            CommentId::KIND => visible_comment(ctx, comments.get(&CommentId(row)).cloned())
                .await?
                .map(|c| Node::Comment(CommentNode(c))),
            ModActionId::KIND => actions
                .get(&ModActionId(row))
                .cloned()
                .map(|a| Node::ModAction(ModActionNode(a))),
            ReportId::KIND => {
                let viewer = ctx.request()?.viewer();
                ctx.services()?
                    .trust
                    .report_for(viewer, ReportId(row))
                    .await
                    .gql()?
                    .map(|r| Node::Report(super::report::ReportNode(r)))
            }
            NotificationId::KIND => notifications
                .get(&NotificationId(row))
                .filter(|n| Some(n.user) == viewer)
                .cloned()
                .map(|n| Node::Notification(super::notification::NotificationNode(n))),
            _ => None,
        });
    }
    Ok(nodes)
}

/// Awaits four loads together, so each type's batch goes out in the same tick.
async fn futures_join<A, B, C, D>(
    a: A,
    b: B,
    c: C,
    d: D,
) -> (A::Output, B::Output, C::Output, D::Output)
where
    A: std::future::Future,
    B: std::future::Future,
    C: std::future::Future,
    D: std::future::Future,
{
    tokio::join!(a, b, c, d)
}
