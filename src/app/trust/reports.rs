//! The report queue: members report posts and comments; the moderators of the content's category (and
//! admins) list the open reports and resolve each once. A resolution is claimed first — one
//! `UPDATE … WHERE status = 'OPEN'` decides between concurrent moderators — and then carried out through the
//! moderation of content (removal) and the category bans; a step that fails opens the report again.

use chrono::{DateTime, Utc};

use super::TrustService;
use crate::domain::bans;
use crate::domain::moderation::optional_reason;
use crate::domain::page::{Page, PageRequest};
use crate::domain::reports::{
    self as rules, Report, ReportAction, ReportReason, ReportStatus, ReportSubject,
};
use crate::domain::{
    AppError, AppResult, BoardEvent, CategoryId, ModActionKind, ModTarget, NewModAction, PostId,
    ReportId, User, UserId,
};
use crate::ports::{NewReport, QueueFilter, Resolution};
use crate::telemetry::metrics;

fn require_member(actor: &User) -> AppResult<()> {
    if actor.may_act() {
        Ok(())
    } else {
        Err(AppError::Forbidden("this account may not write".into()))
    }
}

impl TrustService {
    /// The category and post of a live post or comment (removed or deleted: `NOT_FOUND`).
    async fn reported(&self, subject: ReportSubject) -> AppResult<(CategoryId, PostId)> {
        match subject {
            ReportSubject::Post(id) => {
                let post = self.board.posts_by_ids(&[id]).await?.remove(&id);
                match post {
                    Some(p) if p.is_active => Ok((p.category_id, p.id)),
                    _ => Err(AppError::NotFound("no such post".into())),
                }
            }
            ReportSubject::Comment(id) => {
                let comment = self.board.comments_by_ids(&[id]).await?.remove(&id);
                let Some(comment) = comment.filter(|c| c.is_active) else {
                    return Err(AppError::NotFound("no such comment".into()));
                };
                let post = self
                    .board
                    .posts_by_ids(&[comment.post_id])
                    .await?
                    .remove(&comment.post_id);
                match post {
                    Some(p) if p.is_active => Ok((p.category_id, p.id)),
                    _ => Err(AppError::NotFound("no such comment".into())),
                }
            }
        }
    }

    /// The author of a subject in any state (removed and deleted ones too).
    async fn author_of(&self, subject: ReportSubject) -> AppResult<UserId> {
        Ok(self.subject_state(subject).await?.0)
    }

    /// The reported content's author, and whether its author deleted it (then nothing is left to remove).
    async fn subject_state(&self, subject: ReportSubject) -> AppResult<(UserId, bool)> {
        let found = match subject {
            ReportSubject::Post(id) => self
                .board
                .posts_by_ids(&[id])
                .await?
                .remove(&id)
                .map(|p| (p.author_id, !p.is_active && p.removal.is_none())),
            ReportSubject::Comment(id) => self
                .board
                .comments_by_ids(&[id])
                .await?
                .remove(&id)
                .map(|c| (c.author_id, !c.is_active && c.removal.is_none())),
        };
        found.ok_or_else(|| AppError::NotFound("the reported content no longer exists".into()))
    }

    /// A member reports a post or comment (their own too). One open report per member and subject: a second
    /// one is a `CONFLICT`. Counted against the member's report budget. Announced after commit to the
    /// moderators' `reportAdded`.
    pub async fn report_content(
        &self,
        actor: &User,
        subject: ReportSubject,
        reason: ReportReason,
        note: Option<&str>,
    ) -> AppResult<Report> {
        require_member(actor)?;
        let note = rules::note(note)?;
        let (category, post) = self.reported(subject).await?;
        let now = self.clock.now();
        self.limiter.reserve_report(actor.id, now).await?;
        let report = self
            .reports
            .open(NewReport {
                reporter: actor.id,
                subject,
                category_id: category,
                reason,
                note,
                at: now,
            })
            .await?;
        metrics::moderation("report_opened");
        self.backlog_changed();
        let comment = match subject {
            ReportSubject::Comment(comment) => Some(comment),
            ReportSubject::Post(_) => None,
        };
        self.board
            .announce(BoardEvent::report(report.id, category, post, comment))
            .await;
        Ok(report)
    }

    /// The reports of `category` and its descendants (or, without one, of every category `actor` moderates;
    /// every category for admins), oldest first. `FORBIDDEN` for anyone who moderates none of them.
    pub async fn reports(
        &self,
        actor: &User,
        status: ReportStatus,
        category: Option<CategoryId>,
        page: &PageRequest<i64>,
    ) -> AppResult<(Page<Report>, QueueFilter)> {
        let filter = self.queue_filter(actor, status, category).await?;
        let page = self.reports.queue(&filter, page).await?;
        Ok((page, filter))
    }

    /// Whether `actor` may follow new reports of `category` (and below; without one, of the categories
    /// they moderate): the queue's own rule, so `reportAdded` refuses exactly whom `reports` refuses.
    pub async fn require_queue(&self, actor: &User, category: Option<CategoryId>) -> AppResult<()> {
        self.queue_filter(actor, ReportStatus::Open, category)
            .await
            .map(|_| ())
    }

    /// One report by id, whoever asks (the event hub resolves it once for every subscriber; each then
    /// sees it only with its own rights).
    pub async fn report_by_id(&self, id: ReportId) -> AppResult<Option<Report>> {
        Ok(self.reports.by_ids(&[id]).await?.pop())
    }

    pub async fn count_reports(&self, filter: &QueueFilter) -> AppResult<i64> {
        self.reports.count(filter).await
    }

    async fn queue_filter(
        &self,
        actor: &User,
        status: ReportStatus,
        category: Option<CategoryId>,
    ) -> AppResult<QueueFilter> {
        require_member(actor)?;
        let tree = self.board.category_tree().await?;
        let categories = match category {
            Some(category) => {
                if tree.get(category).is_none() {
                    return Err(AppError::invalid("categoryId", "no such category"));
                }
                self.require_moderator(actor, category).await?;
                Some(tree.with_descendants(category))
            }
            None if actor.is_admin() => None,
            None => {
                let moderated: Vec<CategoryId> = tree
                    .roots()
                    .into_iter()
                    .flat_map(|root| tree.with_descendants(root.id))
                    .filter(|c| crate::domain::moderation::may_moderate(actor, *c, &tree))
                    .collect();
                if moderated.is_empty() {
                    return Err(AppError::Forbidden(
                        "only moderators and admins see reports".into(),
                    ));
                }
                Some(moderated)
            }
        };
        Ok(QueueFilter { status, categories })
    }

    /// A report by id, for a moderator of its category (or an admin); `None` for anyone else.
    pub async fn report_for(
        &self,
        viewer: Option<&User>,
        id: ReportId,
    ) -> AppResult<Option<Report>> {
        let Some(viewer) = viewer else {
            return Ok(None);
        };
        let Some(report) = self.reports.by_ids(&[id]).await?.pop() else {
            return Ok(None);
        };
        if self.may_moderate(viewer, report.category_id).await? {
            Ok(Some(report))
        } else {
            Ok(None)
        }
    }

    /// A moderator of the report's category resolves it: `DISMISS`, `REMOVE` the content, or
    /// `REMOVE_AND_BAN` (also bans its author from the category, until `ban_until` if given). Resolved once:
    /// a concurrent or later resolution is a `CONFLICT`.
    pub async fn resolve_report(
        &self,
        actor: &User,
        id: ReportId,
        action: ReportAction,
        reason: Option<&str>,
        ban_until: Option<DateTime<Utc>>,
    ) -> AppResult<Report> {
        require_member(actor)?;
        let reason = optional_reason("reason", reason)?;
        let now = self.clock.now();
        let ban_until = match action {
            ReportAction::RemoveAndBan => bans::ban_end("banUntil", ban_until, now)?,
            _ if ban_until.is_some() => {
                return Err(AppError::invalid(
                    "banUntil",
                    "is only for the REMOVE_AND_BAN action",
                ));
            }
            _ => None,
        };
        let report = self
            .reports
            .by_ids(&[id])
            .await?
            .pop()
            .ok_or_else(|| AppError::NotFound("no such report".into()))?;
        self.require_moderator(actor, report.category_id).await?;
        if report.status != ReportStatus::Open {
            return Err(rules::already_resolved());
        }
        if action == ReportAction::RemoveAndBan {
            // Refused before anything is claimed: the author must be someone this moderator may ban.
            let author = self.author_of(report.subject).await?;
            self.check_ban_target(actor, author, report.category_id)
                .await?;
        }
        let target = match report.subject {
            ReportSubject::Post(post) => ModTarget::Post(post),
            ReportSubject::Comment(comment) => ModTarget::Comment(comment),
        };
        let log = NewModAction::new(ModActionKind::ResolveReport, actor.id, target, now)
            .in_category(report.category_id)
            .because(Some(match &reason {
                Some(reason) => format!("{}: {reason}", action.as_db_name()),
                None => action.as_db_name().to_owned(),
            }));
        let claimed = self
            .reports
            .resolve(&Resolution {
                report: id,
                action,
                by: actor.id,
                at: now,
                log,
            })
            .await?;
        if !claimed {
            return Err(rules::already_resolved());
        }
        self.backlog_changed();
        self.outbox.written();
        if let Err(err) = self
            .carry_out(actor, &report, action, reason, ban_until)
            .await
        {
            if let Err(again) = self.reports.reopen(id).await {
                tracing::error!(error = %again, report = %id.0, "a report whose resolution failed could not be opened again");
            }
            self.backlog_changed();
            return Err(err);
        }
        metrics::moderation(if action.removes() {
            "report_resolved"
        } else {
            "report_dismissed"
        });
        self.reports
            .by_ids(&[id])
            .await?
            .pop()
            .ok_or_else(|| AppError::NotFound("no such report".into()))
    }

    async fn carry_out(
        &self,
        actor: &User,
        report: &Report,
        action: ReportAction,
        reason: Option<String>,
        ban_until: Option<DateTime<Utc>>,
    ) -> AppResult<()> {
        if !action.removes() {
            return Ok(());
        }
        let removal = rules::removal_reason(reason.clone(), report.reason);
        let (author, deleted) = self.subject_state(report.subject).await?;
        // Content its author deleted meanwhile is gone already: the resolution stands without a removal.
        if !deleted {
            match report.subject {
                ReportSubject::Post(post) => {
                    self.board.remove_post(actor, post, &removal).await?;
                }
                ReportSubject::Comment(comment) => {
                    self.board.remove_comment(actor, comment, &removal).await?;
                }
            }
        }
        if action == ReportAction::RemoveAndBan {
            self.ban_from_category(
                actor,
                report.category_id,
                author,
                Some(&reason.unwrap_or(removal)),
                ban_until,
            )
            .await?;
        }
        Ok(())
    }
}
