//! `PostRepo` on sqlx.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::{Db, Text, db_error, on_db, push_ids, with_retries};
use crate::domain::page::{Page, PageRequest};
use crate::domain::{
    AppError, AppResult, CategoryId, Post, PostFilter, PostId, PostKey, PostOrder, Revision, UserId,
};
use crate::ports::PostRepo;
use crate::telemetry::roundtrips::count_db;

pub struct SqlPostRepo {
    db: Db,
}

impl SqlPostRepo {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[derive(sqlx::FromRow)]
struct PostRow {
    id: i64,
    user_id: i64,
    category_id: i64,
    created_datetime: DateTime<Utc>,
    is_active: bool,
    title: Text,
    content: Text,
    version: i32,
    updated_datetime: DateTime<Utc>,
    vote_count: i64,
    comment_count: i64,
}

#[derive(sqlx::FromRow)]
struct RevisionRow {
    owner_id: i64,
    version: i32,
    title: Text,
    content: Text,
    created_datetime: DateTime<Utc>,
}

const SELECT_POSTS: &str = "SELECT p.id, p.user_id, p.category_id, p.created_datetime, p.is_active, \
     pc.title, pc.content, pc.version, pc.created_datetime AS updated_datetime, p.vote_count, p.comment_count \
     FROM post p JOIN post_content pc ON pc.post_id = p.id AND pc.version = p.current_version \
     WHERE p.id IN (";

/// Appends the filter of a post list (`p` is `post`, `pc` its current version) after a `WHERE`.
macro_rules! push_post_filter {
    ($query:expr, $filter:expr) => {{
        $query.push("p.is_active = TRUE");
        if let Some(categories) = &$filter.category_ids {
            $query.push(" AND p.category_id IN (");
            push_ids!($query, categories.iter().map(|id| id.0));
        }
        if let Some(author) = $filter.author_id {
            $query.push(" AND p.user_id = ").push_bind(author.0);
        }
        if let Some(term) = &$filter.search {
            let pattern = crate::domain::board::like_pattern(term);
            $query
                .push(" AND (LOWER(pc.title) LIKE ")
                .push_bind(pattern.clone())
                .push(" ESCAPE '!' OR LOWER(pc.content) LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '!')");
        }
    }};
}

fn from_clause(filter: &PostFilter) -> &'static str {
    if filter.search.is_some() {
        " FROM post p JOIN post_content pc ON pc.post_id = p.id AND pc.version = p.current_version WHERE "
    } else {
        " FROM post p WHERE "
    }
}

fn write_error(err: sqlx::Error) -> AppError {
    match err.as_database_error() {
        Some(db) if db.is_foreign_key_violation() => {
            AppError::invalid("categoryId", "no such category")
        }
        _ => db_error(err),
    }
}

#[async_trait]
impl PostRepo for SqlPostRepo {
    async fn create(
        &self,
        author: UserId,
        category: CategoryId,
        title: &str,
        content: &str,
        at: DateTime<Utc>,
    ) -> AppResult<PostId> {
        let _trip = count_db();
        let id: i64 = on_db!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO post (user_id, category_id, created_datetime, is_active, current_version, vote_count, comment_count) \
                 VALUES (?, ?, ?, TRUE, 0, 0, 0) RETURNING id",
            )
            .bind(author.0)
            .bind(category.0)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO post_content (version, created_datetime, title, content, post_id) VALUES (0, ?, ?, ?, ?)")
                .bind(at)
                .bind(title)
                .bind(content)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(id)
        })
        .map_err(write_error)?;
        Ok(PostId(id))
    }

    async fn append_version(
        &self,
        id: PostId,
        title: &str,
        content: &str,
        at: DateTime<Utc>,
    ) -> AppResult<i32> {
        let db = &self.db;
        let found: Option<i32> = with_retries("the post", || async move {
            on_db!(db, pool => async {
                let mut tx = pool.begin().await?;
                // Bumping the counter first takes the row lock: concurrent editors of one post queue here.
                let bumped = sqlx::query("UPDATE post SET current_version = current_version + 1 WHERE id = ? AND is_active = TRUE")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if bumped == 0 {
                    tx.rollback().await?;
                    return Ok(None);
                }
                let version: i32 = sqlx::query_scalar("SELECT current_version FROM post WHERE id = ?")
                    .bind(id.0)
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO post_content (version, created_datetime, title, content, post_id) VALUES (?, ?, ?, ?, ?)")
                    .bind(version)
                    .bind(at)
                    .bind(title)
                    .bind(content)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Some(version))
            })
        })
        .await?;
        found.ok_or_else(|| AppError::NotFound("no such post".into()))
    }

    async fn deactivate(&self, id: PostId) -> AppResult<bool> {
        let _trip = count_db();
        let affected = on_db!(&self.db, pool => sqlx::query("UPDATE post SET is_active = FALSE WHERE id = ? AND is_active = TRUE")
            .bind(id.0)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(db_error)?;
        Ok(affected > 0)
    }

    async fn by_ids(&self, ids: &[PostId]) -> AppResult<Vec<Post>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let _trip = count_db();
        let rows: Vec<PostRow> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(SELECT_POSTS);
            push_ids!(query, ids.iter().map(|id| id.0));
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|r| Post {
                id: PostId(r.id),
                author_id: UserId(r.user_id),
                category_id: CategoryId(r.category_id),
                created_at: r.created_datetime,
                is_active: r.is_active,
                title: r.title.0,
                content: r.content.0,
                version: r.version,
                updated_at: r.updated_datetime,
                vote_count: r.vote_count,
                comment_count: r.comment_count,
            })
            .collect())
    }

    async fn revisions(&self, ids: &[PostId]) -> AppResult<Vec<(PostId, Revision)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let _trip = count_db();
        let rows: Vec<RevisionRow> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(
                "SELECT post_id AS owner_id, version, title, content, created_datetime FROM post_content WHERE post_id IN (",
            );
            push_ids!(query, ids.iter().map(|id| id.0));
            query.push(" ORDER BY post_id, version");
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    PostId(r.owner_id),
                    Revision {
                        version: r.version,
                        title: Some(r.title.0),
                        content: r.content.0,
                        created_at: r.created_datetime,
                    },
                )
            })
            .collect())
    }

    async fn list(
        &self,
        filter: &PostFilter,
        order: PostOrder,
        page: &PageRequest<PostKey>,
    ) -> AppResult<Page<PostKey>> {
        let _trip = count_db();
        let rows: Vec<(i64, i64)> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new("SELECT p.id, p.vote_count");
            query.push(from_clause(filter));
            push_post_filter!(query, filter);
            // Keyset conditions: `after` continues past the cursor in the list's order, `before` stops at it.
            let descending = order != PostOrder::Oldest;
            for (cursor, past) in [(page.after, true), (page.before, false)] {
                let Some(key) = cursor else { continue };
                let op = if descending == past { "<" } else { ">" };
                if order == PostOrder::MostVoted {
                    query
                        .push(format!(" AND (p.vote_count {op} "))
                        .push_bind(key.votes)
                        .push(" OR (p.vote_count = ")
                        .push_bind(key.votes)
                        .push(format!(" AND p.id {op} "))
                        .push_bind(key.id.0)
                        .push("))");
                } else {
                    query.push(format!(" AND p.id {op} ")).push_bind(key.id.0);
                }
            }
            let reverse = page.backward;
            let direction = if descending != reverse { "DESC" } else { "ASC" };
            if order == PostOrder::MostVoted {
                query.push(format!(" ORDER BY p.vote_count {direction}, p.id {direction}"));
            } else {
                query.push(format!(" ORDER BY p.id {direction}"));
            }
            query.push(" LIMIT ").push_bind(page.fetch() as i64);
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(db_error)?;
        let keys = rows
            .into_iter()
            .map(|(id, votes)| PostKey {
                id: PostId(id),
                votes,
            })
            .collect();
        Ok(Page::from_rows(keys, page))
    }

    async fn count(&self, filter: &PostFilter) -> AppResult<i64> {
        let _trip = count_db();
        on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new("SELECT COUNT(*)");
            query.push(from_clause(filter));
            push_post_filter!(query, filter);
            query.build_query_scalar().fetch_one(pool).await
        })
        .map_err(db_error)
    }
}
