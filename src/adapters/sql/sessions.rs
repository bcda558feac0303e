//! `SessionRepo` on sqlx.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Db, Text, db_error, on_db};
use crate::domain::{AppResult, UserId};
use crate::ports::{NewRefreshSession, RefreshSession, SessionRepo};
use crate::request::count_db;

pub struct SqlSessionRepo {
    db: Db,
}

impl SqlSessionRepo {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: i64,
    user_id: i64,
    family_id: Text,
    expires_datetime: DateTime<Utc>,
    rotated_datetime: Option<DateTime<Utc>>,
    revoked_datetime: Option<DateTime<Utc>>,
}

const INSERT_SESSION: &str = "INSERT INTO refresh_session \
     (user_id, family_id, token_hash, created_datetime, expires_datetime) VALUES (?, ?, ?, ?, ?)";

#[async_trait]
impl SessionRepo for SqlSessionRepo {
    async fn create(&self, s: NewRefreshSession) -> AppResult<()> {
        let _trip = count_db();
        on_db!(&self.db, pool => sqlx::query(INSERT_SESSION)
            .bind(s.user_id.0)
            .bind(&s.family_id)
            .bind(&s.token_hash)
            .bind(s.created_at)
            .bind(s.expires_at)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(db_error)
    }

    async fn find(&self, token_hash: &str) -> AppResult<Option<RefreshSession>> {
        let _trip = count_db();
        let row: Option<SessionRow> = on_db!(&self.db, pool => sqlx::query_as(
            "SELECT id, user_id, family_id, expires_datetime, rotated_datetime, revoked_datetime \
             FROM refresh_session WHERE token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(pool)
        .await)
        .map_err(db_error)?;
        Ok(row.map(|r| RefreshSession {
            id: r.id,
            user_id: UserId(r.user_id),
            family_id: r.family_id.0,
            expires_at: r.expires_datetime,
            rotated: r.rotated_datetime.is_some(),
            revoked: r.revoked_datetime.is_some(),
        }))
    }

    async fn rotate(
        &self,
        old: i64,
        next: NewRefreshSession,
        at: DateTime<Utc>,
    ) -> AppResult<bool> {
        let _trip = count_db();
        on_db!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            // The conditional update is the race arbiter: of two concurrent rotations of one token, one wins.
            let claimed = sqlx::query(
                "UPDATE refresh_session SET rotated_datetime = ? \
                 WHERE id = ? AND rotated_datetime IS NULL AND revoked_datetime IS NULL",
            )
            .bind(at)
            .bind(old)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed == 1 {
                sqlx::query(INSERT_SESSION)
                    .bind(next.user_id.0)
                    .bind(&next.family_id)
                    .bind(&next.token_hash)
                    .bind(next.created_at)
                    .bind(next.expires_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            } else {
                tx.rollback().await?;
                Ok(false)
            }
        })
        .map_err(db_error)
    }

    async fn revoke_family(&self, family_id: &str, at: DateTime<Utc>) -> AppResult<()> {
        let _trip = count_db();
        on_db!(&self.db, pool => sqlx::query(
            "UPDATE refresh_session SET revoked_datetime = ? WHERE family_id = ? AND revoked_datetime IS NULL",
        )
        .bind(at)
        .bind(family_id)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(db_error)
    }

    async fn family_live(&self, family_id: &str, at: DateTime<Utc>) -> AppResult<bool> {
        let _trip = count_db();
        let live: i64 = on_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM refresh_session WHERE family_id = ? AND revoked_datetime IS NULL \
             AND rotated_datetime IS NULL AND expires_datetime > ?",
        )
        .bind(family_id)
        .bind(at)
        .fetch_one(pool)
        .await)
        .map_err(db_error)?;
        Ok(live > 0)
    }

    async fn revoke(&self, token_hash: &str, at: DateTime<Utc>) -> AppResult<bool> {
        let _trip = count_db();
        let affected = on_db!(&self.db, pool => sqlx::query(
            "UPDATE refresh_session SET revoked_datetime = ? WHERE token_hash = ? AND revoked_datetime IS NULL",
        )
        .bind(at)
        .bind(token_hash)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(db_error)?;
        Ok(affected > 0)
    }

    async fn revoke_all(&self, user_id: UserId, at: DateTime<Utc>) -> AppResult<()> {
        let _trip = count_db();
        on_db!(&self.db, pool => sqlx::query(
            "UPDATE refresh_session SET revoked_datetime = ? WHERE user_id = ? AND revoked_datetime IS NULL",
        )
        .bind(at)
        .bind(user_id.0)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(db_error)
    }
}
