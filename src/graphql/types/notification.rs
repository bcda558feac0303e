//! A member's notifications (`User.notifications`, `notificationAdded`): docs/notifications.md.

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, ID, Object};

use super::datetime::DateTime;
use super::moderation::{visible_comment, visible_post};
use super::pagination::{connection, encode_cursor, page_request};
use super::report::ReportActionValue;
use super::{CategoryNode, CommentNode, Node, PostNode, UserNode};
use crate::domain::notifications::{Notification, NotificationKind};
use crate::domain::{NotificationId, UserId};
use crate::graphql::context::ContextExt;
use crate::graphql::cost::directives::Cost;
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;

/// Why a member was notified.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "NotificationKind")]
pub enum NotificationKindValue {
    /// Someone answered the member's post (a top-level comment) or comment (a reply).
    Reply,
    /// Someone named the member (`@name`) in a post or comment.
    Mention,
    /// A new comment on a post the member watches.
    WatchedPostComment,
    /// A new post in a category the member watches (or one below it).
    WatchedCategoryPost,
    /// A moderator removed the member's post or comment.
    ContentRemoved,
    /// A moderator resolved a report the member made (`reportResolution` says how).
    ReportResolved,
    /// The member was banned: from a category (`subject` is it) or from the whole board.
    Banned,
}

impl From<NotificationKind> for NotificationKindValue {
    fn from(kind: NotificationKind) -> Self {
        match kind {
            NotificationKind::Reply => Self::Reply,
            NotificationKind::Mention => Self::Mention,
            NotificationKind::WatchedPostComment => Self::WatchedPostComment,
            NotificationKind::WatchedCategoryPost => Self::WatchedCategoryPost,
            NotificationKind::ContentRemoved => Self::ContentRemoved,
            NotificationKind::ReportResolved => Self::ReportResolved,
            NotificationKind::Banned => Self::Banned,
        }
    }
}

pub fn notification_id(id: NotificationId) -> ID {
    ids::encode(NotificationId::KIND, id.0)
}

#[derive(Clone)]
pub struct NotificationNode(pub Notification);

/// Something the member was told: a reply, a mention, activity on what they watch, or a moderator's action
/// concerning them. Visible to that member only.
#[Object(name = "Notification")]
impl NotificationNode {
    /// An opaque global id.
    pub async fn id(&self) -> ID {
        notification_id(self.0.id)
    }

    /// Why the member was notified.
    async fn kind(&self) -> NotificationKindValue {
        self.0.kind.into()
    }

    /// When the write that caused it was fanned out.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// Whether the member marked it read (`markNotificationsRead`).
    async fn read(&self) -> bool {
        self.0.read
    }

    /// Who wrote the post or comment; null for a moderator's action (moderators are not named to members)
    /// and for a closed account.
    async fn actor(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> {
        let Some(actor) = self.0.actor else {
            return Ok(None);
        };
        Ok(ctx
            .loaders()?
            .users
            .load_one(actor)
            .await
            .gql()?
            .filter(|user| !user.is_resigned())
            .map(UserNode::new))
    }

    /// What it is about, as the member may see it now: the comment, else the post (null once deleted, or
    /// removed for anyone but its author), or for a category ban the category; null for a board-wide ban.
    async fn subject(&self, ctx: &Context<'_>) -> GqlResult<Option<Node>> {
        let loaders = ctx.loaders()?;
        if let Some(id) = self.0.comment {
            let found = loaders.board.load_one(id).await.gql()?;
            return Ok(visible_comment(ctx, found)
                .await?
                .map(|c| Node::Comment(CommentNode(c))));
        }
        if let Some(id) = self.0.post {
            let found = loaders.board.load_one(id).await.gql()?;
            return Ok(visible_post(ctx, found)
                .await?
                .map(|p| Node::Post(PostNode(p))));
        }
        if let Some(id) = self.0.category {
            return Ok(loaders
                .board
                .load_one(id)
                .await
                .gql()?
                .map(|c| Node::Category(CategoryNode(c))));
        }
        Ok(None)
    }

    /// For `REPORT_RESOLVED`: what the moderator did with the member's report; null for other kinds.
    async fn report_resolution(&self, ctx: &Context<'_>) -> GqlResult<Option<ReportActionValue>> {
        let Some(report) = self.0.report else {
            return Ok(None);
        };
        let found = ctx.services()?.trust.report_by_id(report).await.gql()?;
        Ok(found
            .filter(|r| r.reporter == self.0.user)
            .and_then(|r| r.resolution)
            .map(Into::into))
    }
}

pub struct NotificationTotals {
    user: UserId,
    unread_only: bool,
}

#[Object]
impl NotificationTotals {
    /// The notifications of the list (every page): exact up to 10 000, 10 001 when there are more.
    #[graphql(directive = Cost::apply(1))]
    async fn total_count(&self, ctx: &Context<'_>) -> GqlResult<i64> {
        ctx.services()?
            .inbox
            .count(self.user, self.unread_only)
            .await
            .gql()
    }
}

pub type NotificationConnection =
    Connection<String, NotificationNode, NotificationTotals, EmptyFields>;

/// `User.notifications` of the viewer.
pub async fn notification_connection(
    ctx: &Context<'_>,
    user: UserId,
    unread_only: bool,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> GqlResult<NotificationConnection> {
    let request = page_request(first, after, last, before).gql()?;
    let page = ctx
        .services()?
        .inbox
        .page(user, unread_only, &request)
        .await
        .gql()?;
    Ok(connection(
        page,
        NotificationTotals { user, unread_only },
        |n| encode_cursor(n.id.0),
        |n| Some(NotificationNode(n.clone())),
    ))
}
