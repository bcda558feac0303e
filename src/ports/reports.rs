//! The report queue.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::page::{Page, PageRequest};
use crate::domain::reports::{Report, ReportAction, ReportReason, ReportStatus, ReportSubject};
use crate::domain::{AppResult, CategoryId, NewModAction, ReportId, UserId};

#[derive(Debug, Clone)]
pub struct NewReport {
    pub reporter: UserId,
    pub subject: ReportSubject,
    pub category_id: CategoryId,
    pub reason: ReportReason,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

/// A moderator's resolution of one open report.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub report: ReportId,
    pub action: ReportAction,
    pub by: UserId,
    pub at: DateTime<Utc>,
    /// The `RESOLVE_REPORT` entry, written in the same transaction.
    pub log: NewModAction,
}

/// Which reports a queue lists.
#[derive(Debug, Clone)]
pub struct QueueFilter {
    pub status: ReportStatus,
    /// `None`: every category (admins); else these categories only.
    pub categories: Option<Vec<CategoryId>>,
}

/// # Errors
/// `Unavailable` / `Internal` as for every repository. `open` answers `Conflict { field: "subjectId" }` when
/// the reporter already has an open report on the subject (a unique key decides between concurrent ones).
#[async_trait]
pub trait ReportRepo: Send + Sync {
    async fn open(&self, report: NewReport) -> AppResult<Report>;
    async fn by_ids(&self, ids: &[ReportId]) -> AppResult<Vec<Report>>;
    /// Oldest first.
    async fn queue(&self, filter: &QueueFilter, page: &PageRequest<i64>)
    -> AppResult<Page<Report>>;
    async fn count(&self, filter: &QueueFilter) -> AppResult<i64>;
    /// Moves an open report to the action's status, only if it is still open: `false` when another
    /// resolution came first (one `UPDATE … WHERE status = 'OPEN'` decides). A removing action also resolves
    /// the other open reports of the subject.
    async fn resolve(&self, resolution: &Resolution) -> AppResult<bool>;
    /// Opens a report again whose resolution could not be carried out.
    async fn reopen(&self, report: ReportId) -> AppResult<()>;
}
