//! `PostRepo` on sqlx.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::bans::{BANNED_IN_CATEGORY, banned_until};
use super::counters::{self, GaleraProbe, Written, settle_after};
use super::notifications::outbox_entry;
use super::post_query::{order_by, push_keyset, push_post_filter};
use super::saves::auto_watch_post;
use super::{Db, Text, db_error, on_db, push_ids, with_retries};
use crate::domain::bans;
use crate::domain::markdown;
use crate::domain::notifications::Source;
use crate::domain::page::{Page, PageRequest};
use crate::domain::search::SearchText;
use crate::domain::{
    AppError, AppResult, CategoryId, Post, PostFilter, PostId, PostKey, PostOrder, Removal,
    Revision, UserId,
};
use crate::ports::PostRepo;
use crate::request::count_db;

pub struct SqlPostRepo {
    db: Db,
    galera: GaleraProbe,
}

impl SqlPostRepo {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            galera: GaleraProbe::default(),
        }
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
    content_html: Option<Text>,
    version: i32,
    updated_datetime: DateTime<Utc>,
    vote_count: i64,
    comment_count: i64,
    top_comment_count: i64,
    removed_datetime: Option<DateTime<Utc>>,
    removal_reason: Option<Text>,
    removed_by: Option<i64>,
    locked: bool,
    lock_reason: Option<Text>,
    pinned_datetime: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct RevisionRow {
    owner_id: i64,
    version: i32,
    title: Text,
    content: Text,
    content_html: Option<Text>,
    created_datetime: DateTime<Utc>,
}

/// The removal recorded on a post or comment row, if any.
pub(super) fn removal(
    at: Option<DateTime<Utc>>,
    reason: Option<Text>,
    by: Option<i64>,
) -> Option<Removal> {
    Some(Removal {
        removed_at: at?,
        reason: reason.map(String::from),
        removed_by: UserId(by?),
    })
}

const SELECT_POSTS: &str = "SELECT p.id, p.user_id, p.category_id, p.created_datetime, p.is_active, \
     pc.title, pc.content, pc.content_html, pc.version, pc.created_datetime AS updated_datetime, p.vote_count, p.comment_count, p.top_comment_count, \
     p.removed_datetime, p.removal_reason, p.removed_by, p.locked, p.lock_reason, p.pinned_datetime \
     FROM post p JOIN post_content pc ON pc.post_id = p.id AND pc.version = p.current_version \
     WHERE p.id IN (";

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
        let db = &self.db;
        let text = &SearchText::of(title, content);
        let html = &markdown::render(content);
        let watch = &auto_watch_post(db);
        let attempt = || async move {
            on_db!(db, pool => async {
                let mut tx = pool.begin().await?;
                // The counters first: their row locks order concurrent writers of one category or author
                // before any foreign-key check takes a shared lock on the same rows (which would deadlock).
                let category_found = sqlx::query("UPDATE category SET post_count = post_count + 1 WHERE id = ?")
                    .bind(category.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if category_found == 0 {
                    tx.rollback().await?;
                    return Ok(Err(None));
                }
                sqlx::query("UPDATE `user` SET post_count = post_count + 1 WHERE id = ?")
                    .bind(author.0)
                    .execute(&mut *tx)
                    .await?;
                // Under the author's row lock: a ban committed before it is seen (see `BanRepo`).
                if let Some(until) = banned_until!(tx, BANNED_IN_CATEGORY, category.0, author.0, at).await? {
                    tx.rollback().await?;
                    return Ok(Err(Some(until)));
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO post (user_id, category_id, created_datetime, is_active, current_version, vote_count, comment_count) \
                     VALUES (?, ?, ?, TRUE, 0, 0, 0) RETURNING id",
                )
                .bind(author.0)
                .bind(category.0)
                .bind(at)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query("INSERT INTO post_content (version, created_datetime, title, content, content_html, post_id) VALUES (0, ?, ?, ?, ?, ?)")
                    .bind(at)
                    .bind(title)
                    .bind(content)
                    .bind(html)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO post_search (post_id, title, body, grams) VALUES (?, ?, ?, ?)")
                    .bind(id)
                    .bind(&text.title)
                    .bind(&text.body)
                    .bind(&text.grams)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(watch).bind(author.0).bind(id).bind(at).execute(&mut *tx).await?;
                outbox_entry!(&mut *tx, Source::post(id, 0), Some(author.0), at)?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Ok(id))
            })
        };
        // `Err(None)`: no such category; `Err(Some(until))`: the author is banned there.
        match with_retries("the category", attempt).await? {
            Ok(id) => {
                settle_after(db, &self.galera, counters::of_post(category.0, author.0)).await;
                Ok(PostId(id))
            }
            Err(None) => Err(AppError::invalid("categoryId", "no such category")),
            Err(Some(until)) => Err(bans::banned_here(until)),
        }
    }

    async fn append_version(
        &self,
        id: PostId,
        title: &str,
        content: &str,
        at: DateTime<Utc>,
    ) -> AppResult<i32> {
        let db = &self.db;
        let text = &SearchText::of(title, content);
        let html = &markdown::render(content);
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
                sqlx::query("INSERT INTO post_content (version, created_datetime, title, content, content_html, post_id) VALUES (?, ?, ?, ?, ?, ?)")
                    .bind(version)
                    .bind(at)
                    .bind(title)
                    .bind(content)
                    .bind(html)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE post_search SET title = ?, body = ?, grams = ? WHERE post_id = ?")
                    .bind(&text.title)
                    .bind(&text.body)
                    .bind(&text.grams)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
                outbox_entry!(&mut *tx, Source::post(id.0, version), None::<i64>, at)?;
                tx.commit().await?;
                Ok(Some(version))
            })
        })
        .await?;
        found.ok_or_else(|| AppError::NotFound("no such post".into()))
    }

    async fn deactivate(&self, id: PostId) -> AppResult<bool> {
        let db = &self.db;
        let deactivated = with_retries("the post", || async move {
            on_db!(db, pool => async {
                let mut tx = pool.begin().await?;
                let affected = sqlx::query("UPDATE post SET is_active = FALSE WHERE id = ? AND is_active = TRUE")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if affected > 0 {
                    sqlx::query("UPDATE category SET post_count = post_count - 1 WHERE id = (SELECT category_id FROM post WHERE id = ?)")
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("UPDATE `user` SET post_count = post_count - 1 WHERE id = (SELECT user_id FROM post WHERE id = ?)")
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(affected > 0)
            })
        })
        .await?;
        if deactivated {
            settle_after(db, &self.galera, Written::Post(id.0)).await;
        }
        Ok(deactivated)
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
                content_html: markdown::stored_or_rendered(
                    r.content_html.map(String::from),
                    &r.content.0,
                ),
                content: r.content.0,
                version: r.version,
                updated_at: r.updated_datetime,
                vote_count: r.vote_count,
                comment_count: r.comment_count,
                top_comment_count: r.top_comment_count,
                removal: removal(r.removed_datetime, r.removal_reason, r.removed_by),
                locked: r.locked,
                lock_reason: r.lock_reason.map(String::from),
                pinned_at: r.pinned_datetime,
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
                "SELECT post_id AS owner_id, version, title, content, content_html, created_datetime FROM post_content WHERE post_id IN (",
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
                        content_html: markdown::stored_or_rendered(
                            r.content_html.map(String::from),
                            &r.content.0,
                        ),
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
            let mut query = QueryBuilder::new("SELECT p.id, p.vote_count FROM post p WHERE ");
            push_post_filter!(query, filter);
            push_keyset!(query, order, page);
            query.push(order_by("p", order, page.backward));
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

    /// From the counters: a category (with its descendants) sums its categories' `post_count`, an author
    /// reads `user.post_count`; only both together count rows (the author's, on their index).
    async fn count(&self, filter: &PostFilter) -> AppResult<i64> {
        let _trip = count_db();
        on_db!(&self.db, pool => {
            let mut query;
            match (&filter.category_ids, filter.author_id) {
                (Some(categories), None) => {
                    query = QueryBuilder::new("SELECT CAST(COALESCE(SUM(post_count), 0) AS SIGNED) FROM category WHERE id IN (");
                    push_ids!(query, categories.iter().map(|id| id.0));
                }
                (None, Some(author)) => {
                    query = QueryBuilder::new("SELECT COALESCE(MAX(post_count), 0) FROM `user` WHERE id = ");
                    query.push_bind(author.0);
                }
                (None, None) => {
                    query = QueryBuilder::new("SELECT CAST(COALESCE(SUM(post_count), 0) AS SIGNED) FROM category");
                }
                (Some(_), Some(_)) => {
                    query = QueryBuilder::new("SELECT COUNT(*) FROM post p WHERE ");
                    push_post_filter!(query, filter);
                }
            }
            query.build_query_scalar().fetch_one(pool).await
        })
        .map_err(db_error)
    }
}
