//! `SaveRepo` and `WatchRepo` on sqlx. The unique keys (user, post) and (user, category) arbitrate
//! concurrent writes: a duplicate insert is ignored, never an error (docs/watching.md).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::{Db, db_error, on_db, push_ids, with_retries};
use crate::domain::page::{Page, PageRequest};
use crate::domain::{AppResult, CategoryId, PostId, UserId};
use crate::ports::{SaveRepo, SavedPost, WatchRepo};
use crate::request::count_db;

/// `INSERT IGNORE` (MariaDB) / `INSERT OR IGNORE` (SQLite): a row the unique key already holds is skipped.
pub(super) fn insert_ignore(db: &Db) -> &'static str {
    match db {
        Db::MySql(_) => "INSERT IGNORE",
        Db::Sqlite(_) => "INSERT OR IGNORE",
    }
}

/// The automatic watch of a post by its author or a commenter, inside their write's transaction: added
/// only where the user made no choice yet, so an explicit "not watching" stays.
pub(super) fn auto_watch_post(db: &Db) -> String {
    format!(
        "{} INTO watch_post (user_id, post_id, watching, created_datetime) VALUES (?, ?, TRUE, ?)",
        insert_ignore(db)
    )
}

pub struct SqlSaveRepo {
    db: Db,
}

impl SqlSaveRepo {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl SaveRepo for SqlSaveRepo {
    async fn save(&self, user: UserId, post: PostId, at: DateTime<Utc>) -> AppResult<bool> {
        let sql = &format!(
            "{} INTO saved_post (user_id, post_id, created_datetime) VALUES (?, ?, ?)",
            insert_ignore(&self.db)
        );
        let db = &self.db;
        let added = with_retries("the save", || async move {
            on_db!(db, pool => sqlx::query(sql).bind(user.0).bind(post.0).bind(at).execute(pool).await
                .map(|r| r.rows_affected()))
        })
        .await?;
        Ok(added > 0)
    }

    async fn unsave(&self, user: UserId, post: PostId) -> AppResult<bool> {
        let db = &self.db;
        let removed = with_retries("the save", || async move {
            on_db!(db, pool => sqlx::query("DELETE FROM saved_post WHERE user_id = ? AND post_id = ?")
                .bind(user.0).bind(post.0).execute(pool).await.map(|r| r.rows_affected()))
        })
        .await?;
        Ok(removed > 0)
    }

    async fn saved(&self, user: UserId, posts: &[PostId]) -> AppResult<Vec<PostId>> {
        if posts.is_empty() {
            return Ok(Vec::new());
        }
        let _trip = count_db();
        let ids: Vec<i64> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new("SELECT post_id FROM saved_post WHERE user_id = ");
            query.push_bind(user.0).push(" AND post_id IN (");
            push_ids!(query, posts.iter().map(|p| p.0));
            query.build_query_scalar().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(ids.into_iter().map(PostId).collect())
    }

    async fn page(&self, user: UserId, page: &PageRequest<i64>) -> AppResult<Page<SavedPost>> {
        let _trip = count_db();
        let rows: Vec<(i64, i64)> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(
                "SELECT s.id, s.post_id FROM saved_post s JOIN post p ON p.id = s.post_id \
                 WHERE p.is_active = TRUE AND s.user_id = ",
            );
            query.push_bind(user.0);
            if let Some(after) = page.after {
                query.push(" AND s.id < ").push_bind(after);
            }
            if let Some(before) = page.before {
                query.push(" AND s.id > ").push_bind(before);
            }
            query.push(if page.backward { " ORDER BY s.id ASC" } else { " ORDER BY s.id DESC" });
            query.push(" LIMIT ").push_bind(page.fetch() as i64);
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(db_error)?;
        let saved = rows
            .into_iter()
            .map(|(save, post)| SavedPost {
                save,
                post: PostId(post),
            })
            .collect();
        Ok(Page::from_rows(saved, page))
    }

    async fn count(&self, user: UserId) -> AppResult<i64> {
        let _trip = count_db();
        on_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM saved_post s JOIN post p ON p.id = s.post_id \
             WHERE s.user_id = ? AND p.is_active = TRUE",
        )
        .bind(user.0)
        .fetch_one(pool)
        .await)
        .map_err(db_error)
    }
}

pub struct SqlWatchRepo {
    db: Db,
}

impl SqlWatchRepo {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Stores the user's choice about a post, over an automatic or earlier one.
    fn set_post_watch(&self) -> &'static str {
        match self.db {
            Db::MySql(_) => {
                "INSERT INTO watch_post (user_id, post_id, watching, created_datetime) VALUES (?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE watching = VALUES(watching), created_datetime = VALUES(created_datetime)"
            }
            Db::Sqlite(_) => {
                "INSERT INTO watch_post (user_id, post_id, watching, created_datetime) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (user_id, post_id) DO UPDATE SET watching = excluded.watching, \
                 created_datetime = excluded.created_datetime"
            }
        }
    }
}

#[async_trait]
impl WatchRepo for SqlWatchRepo {
    async fn watch_post(
        &self,
        user: UserId,
        post: PostId,
        watching: bool,
        at: DateTime<Utc>,
    ) -> AppResult<()> {
        let (db, sql) = (&self.db, self.set_post_watch());
        with_retries("the watch", || async move {
            on_db!(db, pool => sqlx::query(sql).bind(user.0).bind(post.0).bind(watching).bind(at)
                .execute(pool).await.map(|_| ()))
        })
        .await
    }

    async fn watch_category(
        &self,
        user: UserId,
        category: CategoryId,
        watching: bool,
        at: DateTime<Utc>,
    ) -> AppResult<()> {
        let db = &self.db;
        let add = &format!(
            "{} INTO watch_category (user_id, category_id, created_datetime) VALUES (?, ?, ?)",
            insert_ignore(db)
        );
        with_retries("the watch", || async move {
            on_db!(db, pool => async {
                if watching {
                    sqlx::query(add).bind(user.0).bind(category.0).bind(at).execute(pool).await?;
                } else {
                    sqlx::query("DELETE FROM watch_category WHERE user_id = ? AND category_id = ?")
                        .bind(user.0).bind(category.0).execute(pool).await?;
                }
                Ok::<_, sqlx::Error>(())
            })
        })
        .await
    }

    async fn watching_posts(&self, user: UserId, posts: &[PostId]) -> AppResult<Vec<PostId>> {
        if posts.is_empty() {
            return Ok(Vec::new());
        }
        let _trip = count_db();
        let ids: Vec<i64> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new("SELECT post_id FROM watch_post WHERE watching = TRUE AND user_id = ");
            query.push_bind(user.0).push(" AND post_id IN (");
            push_ids!(query, posts.iter().map(|p| p.0));
            query.build_query_scalar().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(ids.into_iter().map(PostId).collect())
    }

    async fn watching_categories(
        &self,
        user: UserId,
        categories: &[CategoryId],
    ) -> AppResult<Vec<CategoryId>> {
        if categories.is_empty() {
            return Ok(Vec::new());
        }
        let _trip = count_db();
        let ids: Vec<i64> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new("SELECT category_id FROM watch_category WHERE user_id = ");
            query.push_bind(user.0).push(" AND category_id IN (");
            push_ids!(query, categories.iter().map(|c| c.0));
            query.build_query_scalar().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(ids.into_iter().map(CategoryId).collect())
    }
}
