//! `NotificationRepo` on sqlx, and [`outbox_entry!`], which the writes that may notify someone run inside
//! their transaction (docs/notifications.md).

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::saves::insert_ignore;
use super::{Db, Text, db_error, on_db, push_ids, with_retries};
use crate::domain::notifications::{
    About, NOTIFICATION_COUNT_CAP, Notification, NotificationKind, OutboxEntry, Source, SourceKind,
    Stage,
};
use crate::domain::page::{Page, PageRequest};
use crate::domain::reports::ReportSubject;
use crate::domain::{AppResult, CategoryId, CommentId, NotificationId, PostId, ReportId, UserId};
use crate::ports::NotificationRepo;
use crate::request::count_db;

/// Adds an outbox entry for `$source` (a [`Source`]) by `$actor` (`Option<i64>`) at `$at` on `$conn` —
/// `&mut *tx` of the write's own transaction, so the entry commits with it or not at all. Evaluates to
/// `Result<_, sqlx::Error>`.
macro_rules! outbox_entry {
    ($conn:expr, $source:expr, $actor:expr, $at:expr) => {{
        let source: $crate::domain::notifications::Source = $source;
        sqlx::query(
            "INSERT INTO notification_outbox (source_kind, source_id, source_version, actor_id, \
             created_datetime, attempts, trace_parent) VALUES (?, ?, ?, ?, ?, 0, ?)",
        )
        .bind(source.kind.as_db_name())
        .bind(source.id)
        .bind(source.version)
        .bind($actor)
        .bind($at)
        .bind($crate::request::cause().map(|cause| cause.to_string()))
        .execute($conn)
        .await
    }};
}
pub(crate) use outbox_entry;

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: i64,
    source_kind: Text,
    source_id: i64,
    source_version: i32,
    actor_id: Option<i64>,
    attempts: i32,
    stage: i16,
    trace_parent: Option<Text>,
}

#[derive(sqlx::FromRow)]
struct NotificationRow {
    id: i64,
    user_id: i64,
    kind: Text,
    actor_id: Option<i64>,
    post_id: Option<i64>,
    comment_id: Option<i64>,
    category_id: Option<i64>,
    report_id: Option<i64>,
    is_read: bool,
    created_datetime: DateTime<Utc>,
}

impl NotificationRow {
    /// `None` for a kind this version does not know (written by a newer one).
    fn notification(self) -> Option<Notification> {
        Some(Notification {
            id: NotificationId(self.id),
            user: UserId(self.user_id),
            kind: NotificationKind::from_db_name(&self.kind.0)?,
            actor: self.actor_id.map(UserId),
            post: self.post_id.map(PostId),
            comment: self.comment_id.map(CommentId),
            category: self.category_id.map(CategoryId),
            report: self.report_id.map(ReportId),
            read: self.is_read,
            created_at: self.created_datetime,
        })
    }
}

fn notifications(rows: Vec<NotificationRow>) -> Vec<Notification> {
    rows.into_iter()
        .filter_map(NotificationRow::notification)
        .collect()
}

const SELECT_NOTIFICATIONS: &str = "SELECT id, user_id, kind, actor_id, post_id, comment_id, category_id, \
     report_id, is_read, created_datetime FROM notification WHERE ";

/// Rows one statement of "mark all read" changes.
const MARK_ALL_BATCH: i64 = 5_000;

pub struct SqlNotificationRepo {
    db: Db,
}

impl SqlNotificationRepo {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The notifications `users` have from `source`: (member, notification id).
    async fn notified(&self, source: Source, users: &[UserId]) -> AppResult<Vec<(i64, i64)>> {
        let _trip = count_db();
        on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new("SELECT user_id, id FROM notification WHERE source_kind = ");
            query.push_bind(source.kind.as_db_name()).push(" AND source_id = ").push_bind(source.id)
                .push(" AND source_version = ").push_bind(source.version).push(" AND user_id IN (");
            push_ids!(query, users.iter().map(|u| u.0));
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(db_error)
    }
}

#[async_trait]
impl NotificationRepo for SqlNotificationRepo {
    async fn pending(
        &self,
        stage: Stage,
        now: DateTime<Utc>,
        limit: usize,
    ) -> AppResult<Vec<OutboxEntry>> {
        let _trip = count_db();
        let rows: Vec<OutboxRow> = on_db!(&self.db, pool => sqlx::query_as(
            "SELECT id, source_kind, source_id, source_version, actor_id, attempts, stage, trace_parent \
             FROM notification_outbox WHERE stage = ? AND (claimed_until IS NULL OR claimed_until < ?) \
             ORDER BY id LIMIT ?",
        )
        .bind(stage.to_db())
        .bind(now)
        .bind(limit as i64)
        .fetch_all(pool)
        .await)
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                Some(OutboxEntry {
                    id: row.id,
                    source: Source {
                        kind: SourceKind::from_db_name(&row.source_kind.0)?,
                        id: row.source_id,
                        version: row.source_version,
                    },
                    stage: if row.stage == 0 {
                        Stage::Direct
                    } else {
                        Stage::Watchers
                    },
                    actor: row.actor_id.map(UserId),
                    attempts: row.attempts,
                    cause: row.trace_parent.and_then(|t| t.0.parse().ok()),
                })
            })
            .collect())
    }

    async fn claim(&self, entry: i64, now: DateTime<Utc>, until: DateTime<Utc>) -> AppResult<bool> {
        let _trip = count_db();
        let db = &self.db;
        let claimed = with_retries("the outbox", || async move {
            on_db!(db, pool => sqlx::query(
                "UPDATE notification_outbox SET claimed_until = ?, attempts = attempts + 1 \
                 WHERE id = ? AND (claimed_until IS NULL OR claimed_until < ?)",
            )
            .bind(until)
            .bind(entry)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        })
        .await?;
        Ok(claimed > 0)
    }

    async fn advance(&self, entry: i64) -> AppResult<()> {
        let _trip = count_db();
        on_db!(&self.db, pool => sqlx::query(
            "UPDATE notification_outbox SET stage = 1, claimed_until = NULL, attempts = 0 WHERE id = ?",
        )
        .bind(entry).execute(pool).await.map(|_| ()))
        .map_err(db_error)
    }

    async fn renew(&self, entry: i64, until: DateTime<Utc>) -> AppResult<()> {
        let _trip = count_db();
        on_db!(&self.db, pool => sqlx::query("UPDATE notification_outbox SET claimed_until = ? WHERE id = ?")
            .bind(until).bind(entry).execute(pool).await.map(|_| ()))
        .map_err(db_error)
    }

    async fn finish(&self, entry: i64) -> AppResult<()> {
        let _trip = count_db();
        let db = &self.db;
        with_retries("the outbox", || async move {
            on_db!(db, pool => sqlx::query("DELETE FROM notification_outbox WHERE id = ?")
                .bind(entry).execute(pool).await.map(|_| ()))
        })
        .await
    }

    async fn outbox_len(&self) -> AppResult<i64> {
        let _trip = count_db();
        on_db!(&self.db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM notification_outbox")
            .fetch_one(pool).await)
        .map_err(db_error)
    }

    async fn post_watchers(
        &self,
        post: PostId,
        after: Option<UserId>,
        limit: usize,
    ) -> AppResult<Vec<UserId>> {
        let _trip = count_db();
        let ids: Vec<i64> = on_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT user_id FROM watch_post WHERE post_id = ? AND watching = TRUE AND user_id > ? \
             ORDER BY user_id LIMIT ?",
        )
        .bind(post.0)
        .bind(after.map_or(0, |u| u.0))
        .bind(limit as i64)
        .fetch_all(pool)
        .await)
        .map_err(db_error)?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn category_watchers(
        &self,
        categories: &[CategoryId],
        after: Option<UserId>,
        limit: usize,
    ) -> AppResult<Vec<UserId>> {
        if categories.is_empty() {
            return Ok(Vec::new());
        }
        let _trip = count_db();
        let ids: Vec<i64> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new("SELECT DISTINCT user_id FROM watch_category WHERE user_id > ");
            query.push_bind(after.map_or(0, |u| u.0)).push(" AND category_id IN (");
            push_ids!(query, categories.iter().map(|c| c.0));
            query.push(" ORDER BY user_id LIMIT ").push_bind(limit as i64);
            query.build_query_scalar().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn mentioned(&self, source: Source, users: &[UserId]) -> AppResult<Vec<UserId>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let _trip = count_db();
        let ids: Vec<i64> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new("SELECT DISTINCT user_id FROM notification WHERE source_kind = ");
            query.push_bind(source.kind.as_db_name()).push(" AND source_id = ").push_bind(source.id)
                .push(" AND kind = ").push_bind(NotificationKind::Mention.as_db_name())
                .push(" AND user_id IN (");
            push_ids!(query, users.iter().map(|u| u.0));
            query.build_query_scalar().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn settled_reports(
        &self,
        subject: ReportSubject,
        at: DateTime<Utc>,
    ) -> AppResult<Vec<(ReportId, UserId)>> {
        let _trip = count_db();
        let (kind, id) = subject.to_db();
        let rows: Vec<(i64, i64)> = on_db!(&self.db, pool => sqlx::query_as(
            "SELECT id, reporter_id FROM report WHERE subject_kind = ? AND subject_id = ? \
             AND status <> 'OPEN' AND resolved_datetime = ? ORDER BY id",
        )
        .bind(kind)
        .bind(id)
        .bind(at)
        .fetch_all(pool)
        .await)
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(report, reporter)| (ReportId(report), UserId(reporter)))
            .collect())
    }

    async fn insert(
        &self,
        source: Source,
        about: &About,
        recipients: &[(UserId, NotificationKind)],
        at: DateTime<Utc>,
    ) -> AppResult<Vec<(UserId, NotificationId)>> {
        if recipients.is_empty() {
            return Ok(Vec::new());
        }
        let users: Vec<UserId> = recipients.iter().map(|(u, _)| *u).collect();
        let before: HashSet<i64> = self
            .notified(source, &users)
            .await?
            .into_iter()
            .map(|(user, _)| user)
            .collect();
        let _trip = count_db();
        let db = &self.db;
        let verb = insert_ignore(db);
        with_retries("the notifications", || async move {
            on_db!(db, pool => {
                let mut query = QueryBuilder::new(format!(
                    "{verb} INTO notification (user_id, kind, actor_id, post_id, comment_id, category_id, \
                     report_id, source_kind, source_id, source_version, is_read, created_datetime) "
                ));
                query.push_values(recipients, |mut row, (user, kind)| {
                    row.push_bind(user.0)
                        .push_bind(kind.as_db_name())
                        .push_bind(about.actor.map(|u| u.0))
                        .push_bind(about.post.map(|p| p.0))
                        .push_bind(about.comment.map(|c| c.0))
                        .push_bind(about.category.map(|c| c.0))
                        .push_bind(about.report.map(|r| r.0))
                        .push_bind(source.kind.as_db_name())
                        .push_bind(source.id)
                        .push_bind(source.version)
                        .push_bind(false)
                        .push_bind(at);
                });
                query.build().execute(pool).await.map(|_| ())
            })
        })
        .await?;
        let fresh: Vec<UserId> = users
            .into_iter()
            .filter(|u| !before.contains(&u.0))
            .collect();
        if fresh.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .notified(source, &fresh)
            .await?
            .into_iter()
            .map(|(user, id)| (UserId(user), NotificationId(id)))
            .collect())
    }

    async fn mark_read(
        &self,
        user: UserId,
        ids: Option<&[NotificationId]>,
        at: DateTime<Utc>,
    ) -> AppResult<u64> {
        if ids.is_some_and(<[NotificationId]>::is_empty) {
            return Ok(0);
        }
        let db = &self.db;
        let mut marked = 0;
        // All of them: in statements of MARK_ALL_BATCH rows, each committed on its own, so a huge inbox
        // never holds one long transaction and a timed-out call has still made progress.
        loop {
            let _trip = count_db();
            let changed = with_retries("the notifications", || async move {
                on_db!(db, pool => {
                    let mut query = QueryBuilder::new("UPDATE notification SET is_read = TRUE, read_datetime = ");
                    query.push_bind(at);
                    match (ids, db) {
                        (Some(ids), _) => {
                            query.push(" WHERE is_read = FALSE AND user_id = ").push_bind(user.0)
                                .push(" AND id IN (");
                            push_ids!(query, ids.iter().map(|n| n.0));
                        }
                        (None, Db::MySql(_)) => {
                            query.push(" WHERE is_read = FALSE AND user_id = ").push_bind(user.0)
                                .push(" LIMIT ").push_bind(MARK_ALL_BATCH);
                        }
                        (None, Db::Sqlite(_)) => {
                            query.push(" WHERE id IN (SELECT id FROM notification WHERE is_read = FALSE AND user_id = ")
                                .push_bind(user.0).push(" LIMIT ").push_bind(MARK_ALL_BATCH).push(")");
                        }
                    }
                    query.build().execute(pool).await.map(|r| r.rows_affected())
                })
            })
            .await?;
            marked += changed;
            if ids.is_some() || changed < MARK_ALL_BATCH as u64 {
                return Ok(marked);
            }
        }
    }

    async fn expire_read(&self, before: DateTime<Utc>, limit: usize) -> AppResult<u64> {
        let _trip = count_db();
        let sql = match self.db {
            Db::MySql(_) => {
                "DELETE FROM notification WHERE is_read = TRUE AND read_datetime < ? LIMIT ?"
            }
            Db::Sqlite(_) => {
                "DELETE FROM notification WHERE id IN (SELECT id FROM notification \
                 WHERE is_read = TRUE AND read_datetime < ? LIMIT ?)"
            }
        };
        on_db!(&self.db, pool => sqlx::query(sql).bind(before).bind(limit as i64).execute(pool).await
            .map(|r| r.rows_affected()))
        .map_err(db_error)
    }

    async fn page(
        &self,
        user: UserId,
        unread_only: bool,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<Notification>> {
        let _trip = count_db();
        let rows: Vec<NotificationRow> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(SELECT_NOTIFICATIONS);
            query.push("user_id = ").push_bind(user.0);
            if unread_only {
                query.push(" AND is_read = FALSE");
            }
            if let Some(after) = page.after {
                query.push(" AND id < ").push_bind(after);
            }
            if let Some(before) = page.before {
                query.push(" AND id > ").push_bind(before);
            }
            query.push(if page.backward { " ORDER BY id ASC" } else { " ORDER BY id DESC" });
            query.push(" LIMIT ").push_bind(page.fetch() as i64);
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(Page::from_rows(notifications(rows), page))
    }

    async fn count(&self, user: UserId, unread_only: bool) -> AppResult<i64> {
        let _trip = count_db();
        let sql = if unread_only {
            "SELECT COUNT(*) FROM (SELECT 1 FROM notification WHERE user_id = ? AND is_read = FALSE LIMIT ?) t"
        } else {
            "SELECT COUNT(*) FROM (SELECT 1 FROM notification WHERE user_id = ? LIMIT ?) t"
        };
        on_db!(&self.db, pool => sqlx::query_scalar(sql).bind(user.0).bind(NOTIFICATION_COUNT_CAP + 1)
            .fetch_one(pool).await)
            .map_err(db_error)
    }

    async fn by_ids(&self, ids: &[NotificationId]) -> AppResult<Vec<Notification>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let _trip = count_db();
        let rows: Vec<NotificationRow> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(SELECT_NOTIFICATIONS);
            query.push("id IN (");
            push_ids!(query, ids.iter().map(|n| n.0));
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(notifications(rows))
    }

    async fn by_source(
        &self,
        source: Source,
        first: NotificationId,
        last: NotificationId,
    ) -> AppResult<Vec<Notification>> {
        let _trip = count_db();
        let rows: Vec<NotificationRow> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(SELECT_NOTIFICATIONS);
            query.push("id BETWEEN ").push_bind(first.0).push(" AND ").push_bind(last.0)
                .push(" AND source_kind = ").push_bind(source.kind.as_db_name())
                .push(" AND source_id = ").push_bind(source.id)
                .push(" AND source_version = ").push_bind(source.version);
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(notifications(rows))
    }
}
