//! `BanRepo` on sqlx, and the ban check that post, comment and vote writes run inside their transactions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::mod_log::write_mod_action;
use super::{Db, Text, db_error, on_db, with_retries};
use crate::domain::bans::CategoryBan;
use crate::domain::page::{Page, PageRequest};
use crate::domain::{AppError, AppResult, CategoryId, NewModAction, UserId};
use crate::ports::{BanRepo, NewCategoryBan};
use crate::request::count_db;

/// The end of the ban in force (a ban without an end first) of user `?` at time `?` in the category the
/// `$start` query names (binding one `?`) or any of its ancestors. Cycle-safe: the walk stops at 64 tiers.
macro_rules! ban_check {
    ($start:literal) => {
        concat!(
            "WITH RECURSIVE up (id, parent_id, depth) AS (",
            $start,
            " UNION ALL SELECT c.id, c.parent_id, up.depth + 1 FROM category c JOIN up ON c.id = up.parent_id \
             WHERE up.depth < 64) \
             SELECT b.until_datetime FROM category_ban b JOIN up ON b.category_id = up.id \
             WHERE b.user_id = ? AND (b.until_datetime IS NULL OR b.until_datetime > ?) \
             ORDER BY CASE WHEN b.until_datetime IS NULL THEN 0 ELSE 1 END, b.until_datetime DESC LIMIT 1"
        )
    };
}

/// Binds: category id, user id, now.
pub(super) const BANNED_IN_CATEGORY: &str =
    ban_check!("SELECT id, parent_id, 0 FROM category WHERE id = ?");
/// Binds: post id, user id, now.
pub(super) const BANNED_AT_POST: &str = ban_check!(
    "SELECT c.id, c.parent_id, 0 FROM category c JOIN post p ON p.category_id = c.id WHERE p.id = ?"
);
/// Binds: comment id, user id, now.
pub(super) const BANNED_AT_COMMENT: &str = ban_check!(
    "SELECT c.id, c.parent_id, 0 FROM category c JOIN post p ON p.category_id = c.id \
     JOIN comment m ON m.post_id = p.id WHERE m.id = ?"
);

/// Runs a ban check (`$sql`, one of the constants above) on the transaction `$tx`: `Some(until)` when the
/// user is banned there (`until: None` for a ban without an end).
macro_rules! banned_until {
    ($tx:expr, $sql:expr, $start:expr, $user:expr, $now:expr) => {
        sqlx::query_scalar::<_, Option<chrono::DateTime<chrono::Utc>>>($sql)
            .bind($start)
            .bind($user)
            .bind($now)
            .fetch_optional(&mut *$tx)
    };
}
pub(crate) use banned_until;

pub struct SqlBanRepo {
    db: Db,
}

impl SqlBanRepo {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[derive(sqlx::FromRow)]
struct BanRow {
    id: i64,
    category_id: i64,
    user_id: i64,
    reason: Option<Text>,
    until_datetime: Option<DateTime<Utc>>,
    created_datetime: DateTime<Utc>,
}

impl From<BanRow> for CategoryBan {
    fn from(r: BanRow) -> Self {
        CategoryBan {
            id: r.id,
            category_id: CategoryId(r.category_id),
            user_id: UserId(r.user_id),
            reason: r.reason.map(String::from),
            until: r.until_datetime,
            created_at: r.created_datetime,
        }
    }
}

const IN_FORCE: &str = " AND (until_datetime IS NULL OR until_datetime > ";

#[async_trait]
impl BanRepo for SqlBanRepo {
    async fn ban(&self, ban: NewCategoryBan) -> AppResult<CategoryBan> {
        let db = &self.db;
        let ban = &ban;
        let id: Option<i64> = with_retries("the ban", || async move {
            on_db!(db, pool => async {
                let mut tx = pool.begin().await?;
                // First: the user's row lock orders this ban with the user's post and comment writes.
                let found = sqlx::query("UPDATE `user` SET ban_version = ban_version + 1 WHERE id = ?")
                    .bind(ban.user_id.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if found == 0 {
                    tx.rollback().await?;
                    return Ok(None);
                }
                sqlx::query("DELETE FROM category_ban WHERE category_id = ? AND user_id = ?")
                    .bind(ban.category_id.0)
                    .bind(ban.user_id.0)
                    .execute(&mut *tx)
                    .await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO category_ban (category_id, user_id, reason, until_datetime, created_datetime, banned_by) \
                     VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(ban.category_id.0)
                .bind(ban.user_id.0)
                .bind(ban.reason.as_deref())
                .bind(ban.until)
                .bind(ban.at)
                .bind(ban.banned_by.0)
                .fetch_one(&mut *tx)
                .await?;
                write_mod_action!(&mut *tx, &ban.log)?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Some(id))
            })
        })
        .await?;
        let id = id.ok_or_else(|| AppError::NotFound("no such user".into()))?;
        Ok(CategoryBan {
            id,
            category_id: ban.category_id,
            user_id: ban.user_id,
            reason: ban.reason.clone(),
            until: ban.until,
            created_at: ban.at,
        })
    }

    async fn unban(
        &self,
        category: CategoryId,
        user: UserId,
        at: DateTime<Utc>,
        log: &NewModAction,
    ) -> AppResult<bool> {
        let db = &self.db;
        with_retries("the ban", || async move {
            on_db!(db, pool => async {
                let mut tx = pool.begin().await?;
                let lifted = sqlx::query(
                    "DELETE FROM category_ban WHERE category_id = ? AND user_id = ? \
                     AND (until_datetime IS NULL OR until_datetime > ?)",
                )
                .bind(category.0)
                .bind(user.0)
                .bind(at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if lifted == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                write_mod_action!(&mut *tx, log)?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(true)
            })
        })
        .await
    }

    async fn bans(
        &self,
        category: CategoryId,
        now: DateTime<Utc>,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<CategoryBan>> {
        let _trip = count_db();
        let rows: Vec<BanRow> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(
                "SELECT id, category_id, user_id, reason, until_datetime, created_datetime FROM category_ban \
                 WHERE category_id = ",
            );
            query.push_bind(category.0).push(IN_FORCE).push_bind(now).push(")");
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
        Ok(Page::from_rows(
            rows.into_iter().map(CategoryBan::from).collect(),
            page,
        ))
    }

    async fn count_bans(&self, category: CategoryId, now: DateTime<Utc>) -> AppResult<i64> {
        let _trip = count_db();
        on_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM category_ban WHERE category_id = ? \
             AND (until_datetime IS NULL OR until_datetime > ?)",
        )
        .bind(category.0)
        .bind(now)
        .fetch_one(pool)
        .await)
        .map_err(db_error)
    }

    async fn count_in_force(&self, now: DateTime<Utc>) -> AppResult<(i64, i64)> {
        let _trip = count_db();
        on_db!(&self.db, pool => sqlx::query_as(
            "SELECT \
               (SELECT COUNT(*) FROM category_ban WHERE until_datetime IS NULL OR until_datetime > ?), \
               (SELECT COUNT(*) FROM user_state us JOIN state s ON s.id = us.state_id \
                WHERE s.name = 'blocked' AND (us.until_datetime IS NULL OR us.until_datetime > ?))",
        )
        .bind(now)
        .bind(now)
        .fetch_one(pool)
        .await)
        .map_err(db_error)
    }
}
