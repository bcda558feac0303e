//! `UserRepo` on sqlx.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::mod_log::write_mod_action;
use super::{
    Db, Text, db_error, on_db, push_ids, retry_lost_races, returned, unique_violation_target,
};
use crate::domain::page::{Page, PageRequest};
use crate::domain::{
    AppError, AppResult, LoginEvent, NewModAction, Role, User, UserId, UserState, UserStateKind,
    names,
};
use crate::ports::{Credentials, NameClash, NewUser, ProfileChange, StoredName, UserRepo};
use crate::request::count_db;

pub struct SqlUserRepo {
    db: Db,
}

impl SqlUserRepo {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Adds a row (`user_id`, `created_datetime`) to `table` (a table's name, never user data).
    async fn insert_dated(&self, table: &str, id: UserId, at: DateTime<Utc>) -> AppResult<()> {
        let insert = format!("INSERT INTO {table} (user_id, created_datetime) VALUES (?, ?)");
        let _trip = count_db();
        on_db!(&self.db, pool => sqlx::query(&insert)
            .bind(id.0)
            .bind(at)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(db_error)
    }
}

/// One row per (user, state); users without states give one row with NULL state columns.
#[derive(sqlx::FromRow)]
struct UserStateRow {
    id: i64,
    name: Option<Text>,
    email: Option<Text>,
    created_datetime: DateTime<Utc>,
    role: Option<Text>,
    state: Option<Text>,
    state_detail: Option<Text>,
    state_at: Option<DateTime<Utc>>,
    state_until: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct CredentialsRow {
    id: i64,
    password: Option<Text>,
}

#[derive(sqlx::FromRow)]
struct LoginRow {
    id: i64,
    user_id: i64,
    created_datetime: DateTime<Utc>,
}

const SELECT_USERS: &str = "SELECT u.id, u.name, u.email, u.created_datetime, r.name AS role, \
     s.name AS state, us.detail AS state_detail, us.created_datetime AS state_at, \
     us.until_datetime AS state_until \
     FROM `user` u \
     LEFT JOIN role r ON r.id = u.role_id \
     LEFT JOIN user_state us ON us.user_id = u.id \
     LEFT JOIN state s ON s.id = us.state_id \
     WHERE u.id IN (";

fn assemble(rows: Vec<UserStateRow>) -> Vec<User> {
    let mut users: BTreeMap<i64, User> = BTreeMap::new();
    for row in rows {
        let user = users.entry(row.id).or_insert_with(|| User {
            id: UserId(row.id),
            name: row.name.clone().map(String::from),
            email: row.email.clone().map(String::from),
            // A NULL role_id (allowed by the ERD) is an ordinary member.
            role: row
                .role
                .as_ref()
                .and_then(|r| Role::from_db_name(&r.0))
                .unwrap_or(Role::User),
            states: Vec::new(),
            created_at: row.created_datetime,
        });
        if let (Some(kind), Some(at)) = (
            row.state
                .as_ref()
                .and_then(|s| UserStateKind::from_db_name(&s.0)),
            row.state_at,
        ) {
            user.states.push(UserState {
                kind,
                detail: row.state_detail.map(String::from),
                created_at: at,
                until: row.state_until,
            });
        }
    }
    users.into_values().collect()
}

fn write_error(err: sqlx::Error) -> AppError {
    match unique_violation_target(&err) {
        Some(key) if key.contains("name_skeleton") => names::looks_taken(),
        Some(key) if key.contains("email") => {
            AppError::conflict("email", "this email is already registered")
        }
        Some(key) if key.contains("name") => names::taken(),
        Some(_) => AppError::conflict("id", "already exists"),
        None => db_error(err),
    }
}

#[async_trait]
impl UserRepo for SqlUserRepo {
    async fn create(&self, user: NewUser) -> AppResult<UserId> {
        let (db, user) = (&self.db, &user);
        // On a Galera cluster the same name signed up through two nodes at once makes the loser's insert fail
        // certification (a deadlock, after its `RETURNING` row: see `returned`), not the unique key: tried
        // again, it meets the winner's row (CONFLICT).
        let id: i64 = retry_lost_races("the account", write_error, || async move {
            on_db!(db, pool => sqlx::query_scalar(
                "INSERT INTO `user` (name, name_key, name_skeleton, password, email, created_datetime, role_id) \
                 VALUES (?, ?, ?, ?, ?, ?, (SELECT id FROM role WHERE name = ?)) RETURNING id",
            )
            .bind(&user.name.name)
            .bind(&user.name.key)
            .bind(&user.name.skeleton)
            .bind(&user.password_hash)
            .bind(&user.email)
            .bind(user.created_at)
            .bind(user.role.as_db_name())
            .fetch_all(pool)
            .await
            .and_then(returned))
        })
        .await?;
        Ok(UserId(id))
    }

    async fn by_ids(&self, ids: &[UserId]) -> AppResult<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let _trip = count_db();
        let rows: Vec<UserStateRow> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(SELECT_USERS);
            push_ids!(query, ids.iter().map(|id| id.0));
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(assemble(rows))
    }

    async fn id_by_name_key(&self, name_key: &str) -> AppResult<Option<UserId>> {
        let _trip = count_db();
        let id: Option<i64> =
            on_db!(&self.db, pool => sqlx::query_scalar("SELECT id FROM `user` WHERE name_key = ?")
            .bind(name_key)
            .fetch_optional(pool)
            .await)
            .map_err(db_error)?;
        Ok(id.map(UserId))
    }

    async fn name_clash(&self, name: &StoredName) -> AppResult<Option<NameClash>> {
        let _trip = count_db();
        let keys: Vec<Option<Text>> = on_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT name_key FROM `user` WHERE name_key = ? OR name_skeleton = ? LIMIT 2",
        )
        .bind(&name.key)
        .bind(&name.skeleton)
        .fetch_all(pool)
        .await)
        .map_err(db_error)?;
        if keys.iter().flatten().any(|key| key.0 == name.key) {
            Ok(Some(NameClash::Taken))
        } else if keys.is_empty() {
            Ok(None)
        } else {
            Ok(Some(NameClash::LookAlike))
        }
    }

    async fn credentials(&self, name_key: &str, email: &str) -> AppResult<Option<Credentials>> {
        let _trip = count_db();
        let row: Option<CredentialsRow> = on_db!(&self.db, pool => sqlx::query_as(
            "SELECT id, password FROM `user` WHERE name_key = ? OR email = ? ORDER BY id LIMIT 1",
        )
        .bind(name_key)
        .bind(email)
        .fetch_optional(pool)
        .await)
        .map_err(db_error)?;
        Ok(row.map(|r| Credentials {
            user_id: UserId(r.id),
            password_hash: r.password.map(String::from),
        }))
    }

    async fn newest_password_hash(&self) -> AppResult<Option<String>> {
        let _trip = count_db();
        let hash: Option<Text> = on_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT password FROM `user` WHERE password IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(pool)
        .await)
        .map_err(db_error)?;
        Ok(hash.map(String::from))
    }

    async fn password_hash(&self, id: UserId) -> AppResult<Option<String>> {
        let _trip = count_db();
        let hash: Option<Option<Text>> =
            on_db!(&self.db, pool => sqlx::query_scalar("SELECT password FROM `user` WHERE id = ?")
            .bind(id.0)
            .fetch_optional(pool)
            .await)
            .map_err(db_error)?;
        Ok(hash.flatten().map(String::from))
    }

    async fn record_login(&self, id: UserId, at: DateTime<Utc>) -> AppResult<()> {
        self.insert_dated("logged_in", id, at).await
    }

    async fn login_history(
        &self,
        id: UserId,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<LoginEvent>> {
        let _trip = count_db();
        let rows: Vec<LoginRow> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new("SELECT id, user_id, created_datetime FROM logged_in WHERE user_id = ");
            query.push_bind(id.0);
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
        let events = rows
            .into_iter()
            .map(|r| LoginEvent {
                id: r.id,
                user_id: UserId(r.user_id),
                created_at: r.created_datetime,
            })
            .collect();
        Ok(Page::from_rows(events, page))
    }

    async fn count_logins(&self, id: UserId) -> AppResult<i64> {
        let _trip = count_db();
        on_db!(&self.db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM logged_in WHERE user_id = ?")
            .bind(id.0)
            .fetch_one(pool)
            .await)
        .map_err(db_error)
    }

    async fn update_profile(&self, id: UserId, change: ProfileChange) -> AppResult<()> {
        if change.name.is_none() && change.email.is_none() {
            return Ok(());
        }
        let _trip = count_db();
        on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new("UPDATE `user` SET ");
            let mut set = query.separated(", ");
            if let Some(name) = &change.name {
                set.push("name = ").push_bind_unseparated(name.name.clone());
                set.push("name_key = ").push_bind_unseparated(name.key.clone());
                set.push("name_skeleton = ").push_bind_unseparated(name.skeleton.clone());
            }
            if let Some(email) = &change.email {
                set.push("email = ").push_bind_unseparated(email.clone());
            }
            query.push(" WHERE id = ").push_bind(id.0);
            query.build().execute(pool).await.map(|_| ())
        })
        .map_err(write_error)
    }

    async fn set_password(&self, id: UserId, password_hash: &str) -> AppResult<()> {
        let _trip = count_db();
        on_db!(&self.db, pool => sqlx::query("UPDATE `user` SET password = ? WHERE id = ?")
            .bind(password_hash)
            .bind(id.0)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(db_error)
    }

    async fn resign(&self, id: UserId, at: DateTime<Utc>) -> AppResult<()> {
        let _trip = count_db();
        on_db!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE `user` SET name = NULL, name_key = NULL, name_skeleton = NULL, email = NULL, password = NULL WHERE id = ?")
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO user_state (user_id, state_id, detail, created_datetime) \
                 SELECT ?, id, 'resigned', ? FROM state WHERE name = 'inactive' \
                 AND NOT EXISTS (SELECT 1 FROM user_state us JOIN state s ON s.id = us.state_id \
                                 WHERE us.user_id = ? AND s.name = 'inactive')",
            )
            .bind(id.0)
            .bind(at)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE refresh_session SET revoked_datetime = ? WHERE user_id = ? AND revoked_datetime IS NULL")
                .bind(at)
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })
        .map_err(db_error)
    }

    async fn set_role(&self, id: UserId, role: Role, log: Option<&NewModAction>) -> AppResult<()> {
        let _trip = count_db();
        on_db!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE `user` SET role_id = (SELECT id FROM role WHERE name = ?) WHERE id = ?")
                .bind(role.as_db_name())
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            if let Some(log) = log {
                write_mod_action!(&mut *tx, log)?;
            }
            tx.commit().await
        })
        .map_err(db_error)
    }

    async fn add_state(
        &self,
        id: UserId,
        state: UserStateKind,
        detail: Option<&str>,
        at: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        log: Option<&NewModAction>,
    ) -> AppResult<()> {
        let _trip = count_db();
        on_db!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            // Delete-then-insert is an upsert both dialects spell the same way.
            sqlx::query("DELETE FROM user_state WHERE user_id = ? AND state_id = (SELECT id FROM state WHERE name = ?)")
                .bind(id.0)
                .bind(state.as_db_name())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO user_state (user_id, state_id, detail, created_datetime, until_datetime) \
                 SELECT ?, id, ?, ?, ? FROM state WHERE name = ?",
            )
            .bind(id.0)
            .bind(detail)
            .bind(at)
            .bind(until)
            .bind(state.as_db_name())
            .execute(&mut *tx)
            .await?;
            if state == UserStateKind::Blocked {
                sqlx::query("UPDATE refresh_session SET revoked_datetime = ? WHERE user_id = ? AND revoked_datetime IS NULL")
                    .bind(at)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(log) = log {
                write_mod_action!(&mut *tx, log)?;
            }
            tx.commit().await
        })
        .map_err(db_error)
    }

    async fn remove_state(
        &self,
        id: UserId,
        state: UserStateKind,
        log: Option<&NewModAction>,
    ) -> AppResult<()> {
        let _trip = count_db();
        on_db!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let removed = sqlx::query("DELETE FROM user_state WHERE user_id = ? AND state_id = (SELECT id FROM state WHERE name = ?)")
                .bind(id.0)
                .bind(state.as_db_name())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            // Only a state that was there is logged as lifted.
            if let Some(log) = log.filter(|_| removed > 0) {
                write_mod_action!(&mut *tx, log)?;
            }
            tx.commit().await
        })
        .map_err(db_error)
    }

    async fn record_outside_change(&self, id: UserId, at: DateTime<Utc>) -> AppResult<()> {
        self.insert_dated("outside_change", id, at).await
    }

    async fn outside_changes_after(&self, after: i64) -> AppResult<Vec<(i64, UserId)>> {
        const SELECT: &str =
            "SELECT id, user_id FROM outside_change WHERE id > ? ORDER BY id LIMIT 1000";
        let _trip = count_db();
        let rows: Vec<(i64, i64)> = on_db!(&self.db, pool => sqlx::query_as(SELECT)
            .bind(after)
            .fetch_all(pool)
            .await)
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(n, user)| (n, UserId(user)))
            .collect())
    }

    async fn ping(&self) -> AppResult<()> {
        self.db.ping().await.map_err(db_error)
    }
}
