//! `Report` and the report queue's connection.

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, ID, Object};

use super::datetime::DateTime;
use super::node::Node;
use super::pagination::{connection, encode_cursor, page_request};
use super::post::missing;
use super::{CommentNode, PostNode, UserNode};
use crate::domain::reports::{Report, ReportAction, ReportReason, ReportStatus, ReportSubject};
use crate::domain::{CategoryId, ReportId};
use crate::graphql::context::ContextExt;
use crate::graphql::cost::directives::Cost;
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;
use crate::ports::QueueFilter;

/// Why a member reports content.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "ReportReason")]
pub enum ReportReasonValue {
    /// Advertising, link farms, repeated posts.
    Spam,
    /// Attacks on a person.
    Harassment,
    /// Does not belong in this category.
    OffTopic,
    /// Against the law.
    Illegal,
    /// Anything else (say what in `note`).
    Other,
}

/// Where a report stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "ReportStatus")]
pub enum ReportStatusValue {
    /// Waiting for a moderator.
    Open,
    /// A moderator removed the content.
    Resolved,
    /// A moderator found nothing to do.
    Dismissed,
}

/// What a moderator does with a report.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "ReportAction")]
pub enum ReportActionValue {
    /// Nothing to do: the report is closed as `DISMISSED`.
    Dismiss,
    /// Remove the content (as `removeContent` does).
    Remove,
    /// Remove the content and ban its author from the category (as `banFromCategory` does).
    RemoveAndBan,
}

macro_rules! mirror {
    ($value:ident <=> $domain:ident { $($variant:ident),* }) => {
        impl From<$domain> for $value {
            fn from(v: $domain) -> Self {
                match v { $($domain::$variant => Self::$variant),* }
            }
        }
        impl From<$value> for $domain {
            fn from(v: $value) -> Self {
                match v { $($value::$variant => Self::$variant),* }
            }
        }
    };
}
mirror!(ReportReasonValue <=> ReportReason { Spam, Harassment, OffTopic, Illegal, Other });
mirror!(ReportStatusValue <=> ReportStatus { Open, Resolved, Dismissed });
mirror!(ReportActionValue <=> ReportAction { Dismiss, Remove, RemoveAndBan });

pub fn report_id(id: ReportId) -> ID {
    ids::encode(ReportId::KIND, id.0)
}

pub fn decode_report(field: &str, id: &ID) -> crate::domain::AppResult<ReportId> {
    ids::decode_as(field, id, ReportId::KIND).map(ReportId)
}

/// A post or comment id of `reportContent`'s `subjectId`.
pub fn decode_subject(field: &str, id: &ID) -> crate::domain::AppResult<ReportSubject> {
    let (kind, row) = ids::decode(field, id)?;
    ReportSubject::from_db(&kind, row).ok_or_else(|| {
        crate::domain::AppError::invalid(field, "must be the id of a post or a comment")
    })
}

#[derive(Clone)]
pub struct ReportNode(pub Report);

/// A member's report of a post or comment, for the moderators of its category. Seen by moderators and
/// admins (and by the reporter in `reportContent`'s answer).
#[Object(name = "Report")]
impl ReportNode {
    /// An opaque global id.
    pub async fn id(&self) -> ID {
        report_id(self.0.id)
    }

    /// Why the member reported it.
    async fn reason(&self) -> ReportReasonValue {
        self.0.reason.into()
    }

    /// The reporter's note; null when none was given.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    /// Open until a moderator resolves or dismisses it.
    async fn status(&self) -> ReportStatusValue {
        self.0.status.into()
    }

    /// When the report was made.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// The reported post or comment (a removed one included: its moderators see it).
    async fn subject(&self, ctx: &Context<'_>) -> GqlResult<Node> {
        let loaders = ctx.loaders()?;
        match self.0.subject {
            ReportSubject::Post(id) => loaders
                .board
                .load_one(id)
                .await
                .gql()?
                .map(|p| Node::Post(PostNode(p)))
                .ok_or_else(|| missing("post", id)),
            ReportSubject::Comment(id) => loaders
                .board
                .load_one(id)
                .await
                .gql()?
                .map(|c| Node::Comment(CommentNode(c)))
                .ok_or_else(|| missing("comment", id)),
        }
    }

    /// Who reported: shown to the moderators of the category and to admins; null for everyone else (the
    /// reporter included).
    async fn reporter(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> {
        let viewer = ctx.request()?.viewer();
        let moderates = ctx
            .services()?
            .board
            .may_moderate(viewer, self.0.category_id)
            .await
            .gql()?;
        if !moderates {
            return Ok(None);
        }
        Ok(ctx
            .loaders()?
            .users
            .load_one(self.0.reporter)
            .await
            .gql()?
            .map(UserNode::new))
    }

    /// When a moderator resolved or dismissed it; null while open.
    async fn resolved_at(&self) -> Option<DateTime> {
        self.0.resolved_at.map(Into::into)
    }

    /// What the moderator did; null while open.
    async fn resolution(&self) -> Option<ReportActionValue> {
        self.0.resolution.map(Into::into)
    }
}

pub struct ReportTotals {
    filter: QueueFilter,
}

#[Object]
impl ReportTotals {
    /// The reports of the queue (every page).
    #[graphql(directive = Cost::apply(1))]
    async fn total_count(&self, ctx: &Context<'_>) -> GqlResult<i64> {
        ctx.services()?
            .trust
            .count_reports(&self.filter)
            .await
            .gql()
    }
}

pub type ReportConnection = Connection<String, ReportNode, ReportTotals, EmptyFields>;

/// `Query.reports`.
pub async fn report_connection(
    ctx: &Context<'_>,
    status: ReportStatus,
    category: Option<CategoryId>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> GqlResult<ReportConnection> {
    let request = page_request(first, after, last, before).gql()?;
    let actor = ctx.actor()?;
    let (page, filter) = ctx
        .services()?
        .trust
        .reports(actor, status, category, &request)
        .await
        .gql()?;
    Ok(connection(
        page,
        ReportTotals { filter },
        |r| encode_cursor(r.id.0),
        |r| Some(ReportNode(r.clone())),
    ))
}
