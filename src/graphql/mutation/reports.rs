//! The report queue: `reportContent` (members), `resolveReport` (moderators of the content's category).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::graphql::context::ContextExt;
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::types::datetime::DateTime;
use crate::graphql::types::report::{
    ReportActionValue, ReportNode, ReportReasonValue, decode_report, decode_subject,
};

/// A post or comment to report.
#[derive(InputObject)]
pub struct ReportContentInput {
    /// The post or comment.
    pub subject_id: ID,
    /// Why.
    pub reason: ReportReasonValue,
    /// More for the moderators: up to 1 000 characters.
    pub note: Option<String>,
}

/// A report to resolve.
#[derive(InputObject)]
pub struct ResolveReportInput {
    /// The report.
    pub report_id: ID,
    /// What to do.
    pub action: ReportActionValue,
    /// Why (up to 500 characters); the removal's reason, else the report's.
    pub reason: Option<String>,
    /// `REMOVE_AND_BAN` only: when the author's category ban ends (in the future); absent: until lifted.
    pub ban_until: Option<DateTime>,
}

/// The result of `reportContent`.
#[derive(SimpleObject)]
pub struct ReportContentPayload {
    /// The open report.
    pub report: ReportNode,
}

/// The result of `resolveReport`.
#[derive(SimpleObject)]
pub struct ResolveReportPayload {
    /// The resolved report.
    pub report: ReportNode,
}

#[derive(Default)]
pub struct ReportMutations;

#[Object]
impl ReportMutations {
    /// A member reports a post or comment (their own too) to the moderators of its category. One open
    /// report per member and subject (another is a `CONFLICT`); reports per member are limited
    /// (`RATE_LIMITED`).
    async fn report_content(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The content, why, and a note.")] input: ReportContentInput,
    ) -> GqlResult<ReportContentPayload> {
        let actor = ctx.actor()?;
        let subject = decode_subject("subjectId", &input.subject_id).gql()?;
        let report = ctx
            .services()?
            .trust
            .report_content(actor, subject, input.reason.into(), input.note.as_deref())
            .await
            .gql()?;
        Ok(ReportContentPayload {
            report: ReportNode(report),
        })
    }

    /// A moderator of the content's category (or an admin) resolves an open report once; another
    /// resolution, concurrent or later, is a `CONFLICT`. `REMOVE` removes the content (and settles the other
    /// open reports of it); `REMOVE_AND_BAN` also bans its author from the category.
    async fn resolve_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The report, the action, why, and the ban's end.")]
        input: ResolveReportInput,
    ) -> GqlResult<ResolveReportPayload> {
        let actor = ctx.actor()?;
        let id = decode_report("reportId", &input.report_id).gql()?;
        let report = ctx
            .services()?
            .trust
            .resolve_report(
                actor,
                id,
                input.action.into(),
                input.reason.as_deref(),
                input.ban_until.map(|u| u.0),
            )
            .await
            .gql()?;
        Ok(ResolveReportPayload {
            report: ReportNode(report),
        })
    }
}
