//! `ReportRepo` on sqlx. `report.open_marker` is 1 while a report is open and NULL after, so the unique key
//! (reporter, subject, open_marker) admits one open report per reporter and subject: of two concurrent
//! reports one insert wins, the other is a CONFLICT.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::mod_log::write_mod_action;
use super::{
    Db, Text, db_error, on_db, push_ids, retry_lost_races, returned, unique_violation_target,
    with_retries,
};
use crate::domain::page::{Page, PageRequest};
use crate::domain::reports::{Report, ReportAction, ReportReason, ReportStatus, ReportSubject};
use crate::domain::{AppError, AppResult, CategoryId, ReportId, UserId};
use crate::ports::{NewReport, QueueFilter, ReportRepo, Resolution};
use crate::request::count_db;

pub struct SqlReportRepo {
    db: Db,
}

impl SqlReportRepo {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[derive(sqlx::FromRow)]
struct ReportRow {
    id: i64,
    reporter_id: i64,
    subject_kind: Text,
    subject_id: i64,
    category_id: i64,
    reason: Text,
    note: Option<Text>,
    status: Text,
    created_datetime: DateTime<Utc>,
    resolved_datetime: Option<DateTime<Utc>>,
    resolution: Option<Text>,
}

impl ReportRow {
    /// `None` for values this version does not know (written by a newer one).
    fn into_report(self) -> Option<Report> {
        Some(Report {
            id: ReportId(self.id),
            reporter: UserId(self.reporter_id),
            subject: ReportSubject::from_db(&self.subject_kind.0, self.subject_id)?,
            category_id: CategoryId(self.category_id),
            reason: ReportReason::from_db_name(&self.reason.0)?,
            note: self.note.map(String::from),
            status: ReportStatus::from_db_name(&self.status.0)?,
            created_at: self.created_datetime,
            resolved_at: self.resolved_datetime,
            resolution: self
                .resolution
                .and_then(|r| ReportAction::from_db_name(&r.0)),
        })
    }
}

const COLUMNS: &str = "SELECT id, reporter_id, subject_kind, subject_id, category_id, reason, note, status, \
     created_datetime, resolved_datetime, resolution FROM report";

fn open_error(err: sqlx::Error) -> AppError {
    match unique_violation_target(&err) {
        Some(_) => AppError::conflict(
            "subjectId",
            "you already have an open report on this; a moderator will look at it",
        ),
        None => db_error(err),
    }
}

/// `WHERE status = ? [AND category_id IN (…)]`; `false` when the list is empty (nothing can match).
fn push_filter<'a, DB: sqlx::Database>(
    query: &mut QueryBuilder<'a, DB>,
    filter: &'a QueueFilter,
) -> bool
where
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    query
        .push(" WHERE status = ")
        .push_bind(filter.status.as_db_name());
    if let Some(categories) = &filter.categories {
        if categories.is_empty() {
            return false;
        }
        query.push(" AND category_id IN (");
        push_ids!(query, categories.iter().map(|c| c.0));
    }
    true
}

#[async_trait]
impl ReportRepo for SqlReportRepo {
    async fn open(&self, report: NewReport) -> AppResult<Report> {
        let db = &self.db;
        let (kind, subject_id) = report.subject.to_db();
        let report_ref = &report;
        let id: i64 = retry_lost_races("the report", open_error, || async move {
            on_db!(db, pool => sqlx::query_scalar(
                "INSERT INTO report (reporter_id, subject_kind, subject_id, category_id, reason, note, status, \
                 open_marker, created_datetime) VALUES (?, ?, ?, ?, ?, ?, 'OPEN', 1, ?) RETURNING id",
            )
            .bind(report_ref.reporter.0)
            .bind(kind)
            .bind(subject_id)
            .bind(report_ref.category_id.0)
            .bind(report_ref.reason.as_db_name())
            .bind(report_ref.note.as_deref())
            .bind(report_ref.at)
            .fetch_all(pool)
            .await
            .and_then(returned))
        })
        .await?;
        Ok(Report {
            id: ReportId(id),
            reporter: report.reporter,
            subject: report.subject,
            category_id: report.category_id,
            reason: report.reason,
            note: report.note,
            status: ReportStatus::Open,
            created_at: report.at,
            resolved_at: None,
            resolution: None,
        })
    }

    async fn by_ids(&self, ids: &[ReportId]) -> AppResult<Vec<Report>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let _trip = count_db();
        let rows: Vec<ReportRow> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(COLUMNS);
            query.push(" WHERE id IN (");
            push_ids!(query, ids.iter().map(|id| id.0));
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .filter_map(ReportRow::into_report)
            .collect())
    }

    async fn queue(
        &self,
        filter: &QueueFilter,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<Report>> {
        let _trip = count_db();
        let rows: Vec<ReportRow> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(COLUMNS);
            if !push_filter(&mut query, filter) {
                return Ok(Page::empty());
            }
            if let Some(after) = page.after {
                query.push(" AND id > ").push_bind(after);
            }
            if let Some(before) = page.before {
                query.push(" AND id < ").push_bind(before);
            }
            query.push(if page.backward { " ORDER BY id DESC" } else { " ORDER BY id ASC" });
            query.push(" LIMIT ").push_bind(page.fetch() as i64);
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(Page::from_rows(
            rows.into_iter()
                .filter_map(ReportRow::into_report)
                .collect(),
            page,
        ))
    }

    async fn count(&self, filter: &QueueFilter) -> AppResult<i64> {
        let _trip = count_db();
        on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new("SELECT COUNT(*) FROM report");
            if !push_filter(&mut query, filter) {
                return Ok(0);
            }
            query.build_query_scalar().fetch_one(pool).await
        })
        .map_err(db_error)
    }

    async fn resolve(&self, resolution: &Resolution) -> AppResult<bool> {
        let db = &self.db;
        let status = resolution.action.status().as_db_name();
        let action = resolution.action.as_db_name();
        with_retries("the report", || async move {
            on_db!(db, pool => async {
                let mut tx = pool.begin().await?;
                let won = sqlx::query(
                    "UPDATE report SET status = ?, open_marker = NULL, resolved_datetime = ?, resolved_by = ?, \
                     resolution = ? WHERE id = ? AND status = 'OPEN'",
                )
                .bind(status)
                .bind(resolution.at)
                .bind(resolution.by.0)
                .bind(action)
                .bind(resolution.report.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if won == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                if resolution.action.removes() {
                    // The content is gone: every other open report of it is settled by this one.
                    let (kind, subject): (Text, i64) =
                        sqlx::query_as("SELECT subject_kind, subject_id FROM report WHERE id = ?")
                            .bind(resolution.report.0)
                            .fetch_one(&mut *tx)
                            .await?;
                    sqlx::query(
                        "UPDATE report SET status = ?, open_marker = NULL, resolved_datetime = ?, resolved_by = ?, \
                         resolution = ? WHERE status = 'OPEN' AND subject_kind = ? AND subject_id = ?",
                    )
                    .bind(status)
                    .bind(resolution.at)
                    .bind(resolution.by.0)
                    .bind(action)
                    .bind(kind.0)
                    .bind(subject)
                    .execute(&mut *tx)
                    .await?;
                }
                write_mod_action!(&mut *tx, &resolution.log)?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(true)
            })
        })
        .await
    }

    async fn reopen(&self, report: ReportId) -> AppResult<()> {
        let _trip = count_db();
        on_db!(&self.db, pool => sqlx::query(
            "UPDATE report SET status = 'OPEN', open_marker = 1, resolved_datetime = NULL, resolved_by = NULL, \
             resolution = NULL WHERE id = ?",
        )
        .bind(report.0)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(db_error)
    }
}
