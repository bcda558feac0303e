//! `CommentRepo` on sqlx.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::bans::{BANNED_AT_POST, banned_until};
use super::counters::{self, GaleraProbe, Written, settle_after};
use super::notifications::outbox_entry;
use super::saves::auto_watch_post;
use super::threads::{self, place_reply, shift_comment_counters, top_level_share};
use super::{Db, Text, db_error, on_db, push_ids, retry_lost_races, with_retries};
use crate::domain::markdown;
use crate::domain::notifications::Source;
use crate::domain::page::{Page, PageRequest};
use crate::domain::threads::Placement;
use crate::domain::{AppError, AppResult, Comment, CommentId, PostId, Revision, UserId};
use crate::ports::CommentRepo;
use crate::request::count_db;

pub struct SqlCommentRepo {
    db: Db,
    galera: GaleraProbe,
}

impl SqlCommentRepo {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            galera: GaleraProbe::default(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct CommentRow {
    id: i64,
    post_id: i64,
    user_id: i64,
    created_datetime: DateTime<Utc>,
    is_active: bool,
    content: Text,
    content_html: Option<Text>,
    version: i32,
    updated_datetime: DateTime<Utc>,
    vote_count: i64,
    removed_datetime: Option<DateTime<Utc>>,
    removal_reason: Option<Text>,
    removed_by: Option<i64>,
    parent_id: Option<i64>,
    depth: i32,
    reply_count: i64,
}

#[derive(sqlx::FromRow)]
struct RevisionRow {
    owner_id: i64,
    version: i32,
    content: Text,
    content_html: Option<Text>,
    created_datetime: DateTime<Utc>,
}

const SELECT_COMMENTS: &str = "SELECT c.id, c.post_id, c.user_id, c.created_datetime, c.is_active, \
     cc.content, cc.content_html, cc.version, cc.created_datetime AS updated_datetime, c.vote_count, \
     c.removed_datetime, c.removal_reason, c.removed_by, c.parent_id, c.depth, c.reply_count \
     FROM comment c JOIN comment_content cc ON cc.comment_id = c.id AND cc.version = c.current_version \
     WHERE c.id IN (";

#[async_trait]
impl CommentRepo for SqlCommentRepo {
    async fn create(
        &self,
        post: PostId,
        parent: Option<CommentId>,
        author: UserId,
        content: &str,
        at: DateTime<Utc>,
    ) -> AppResult<(CommentId, Placement)> {
        let html = &markdown::render(content);
        let _trip = count_db();
        let db = &self.db;
        let watch = &auto_watch_post(db);
        // Retried as a whole on a lost race (a deadlock, a Galera certification conflict, a busy database).
        let created: AppResult<(i64, Placement)> = retry_lost_races("the comment", db_error, || async move {
            on_db!(db, pool => async {
                let mut tx = pool.begin().await?;
                // The comment it answers first (lock order: docs/threads.md).
                let placement = match place_reply!(tx, post, parent).await? {
                    Ok(placement) => placement,
                    Err(err) => {
                        tx.rollback().await?;
                        return Ok(Err(err));
                    }
                };
                // Counting both checks the post is live and unlocked and takes its row lock (a lock
                // committed before it is seen; one committed after it waits for this comment).
                let counted = sqlx::query(
                    "UPDATE post SET comment_count = comment_count + 1, top_comment_count = top_comment_count + ? \
                     WHERE id = ? AND is_active = TRUE AND locked = FALSE",
                )
                .bind(top_level_share(&placement))
                .bind(post.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if counted == 0 {
                    let lock: Option<(bool, Option<Text>)> =
                        sqlx::query_as("SELECT locked, lock_reason FROM post WHERE id = ? AND is_active = TRUE")
                            .bind(post.0)
                            .fetch_optional(&mut *tx)
                            .await?;
                    tx.rollback().await?;
                    return Ok(Err(match lock {
                        Some((true, reason)) => AppError::Locked { reason: reason.map(String::from) },
                        _ => AppError::NotFound("no such post".into()),
                    }));
                }
                // The author's counter before the insert's foreign-key check takes a shared lock on that row.
                sqlx::query("UPDATE `user` SET comment_count = comment_count + 1 WHERE id = ?")
                    .bind(author.0)
                    .execute(&mut *tx)
                    .await?;
                // Under the author's row lock: a ban committed before it is seen (see `BanRepo`).
                if let Some(until) = banned_until!(tx, BANNED_AT_POST, post.0, author.0, at).await? {
                    tx.rollback().await?;
                    return Ok(Err(crate::domain::bans::banned_here(until)));
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO comment (user_id, post_id, created_datetime, is_active, current_version, vote_count, \
                     parent_id, depth, reply_count) VALUES (?, ?, ?, TRUE, 0, 0, ?, ?, 0) RETURNING id",
                )
                .bind(author.0)
                .bind(post.0)
                .bind(at)
                .bind(placement.parent.map(|p| p.0))
                .bind(placement.depth)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query("INSERT INTO comment_content (version, created_datetime, content, content_html, comment_id) VALUES (0, ?, ?, ?, ?)")
                    .bind(at)
                    .bind(content)
                    .bind(html)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(watch).bind(author.0).bind(post.0).bind(at).execute(&mut *tx).await?;
                outbox_entry!(&mut *tx, Source::comment(id, 0), Some(author.0), at)?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Ok((id, placement)))
            })
        })
        .await?;
        let (id, placement) = created?;
        let moved = counters::of_comment(post.0, author.0, placement.parent.map(|p| p.0));
        settle_after(db, &self.galera, moved).await;
        Ok((CommentId(id), placement))
    }

    async fn append_version(
        &self,
        id: CommentId,
        content: &str,
        at: DateTime<Utc>,
    ) -> AppResult<i32> {
        let db = &self.db;
        let html = &markdown::render(content);
        let found: Option<i32> = with_retries("the comment", || async move {
            on_db!(db, pool => async {
                let mut tx = pool.begin().await?;
                let bumped = sqlx::query("UPDATE comment SET current_version = current_version + 1 WHERE id = ? AND is_active = TRUE")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if bumped == 0 {
                    tx.rollback().await?;
                    return Ok(None);
                }
                let version: i32 = sqlx::query_scalar("SELECT current_version FROM comment WHERE id = ?")
                    .bind(id.0)
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO comment_content (version, created_datetime, content, content_html, comment_id) VALUES (?, ?, ?, ?, ?)")
                    .bind(version)
                    .bind(at)
                    .bind(content)
                    .bind(html)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
                outbox_entry!(&mut *tx, Source::comment(id.0, version), None::<i64>, at)?;
                tx.commit().await?;
                Ok(Some(version))
            })
        })
        .await?;
        found.ok_or_else(|| AppError::NotFound("no such comment".into()))
    }

    async fn deactivate(&self, id: CommentId) -> AppResult<bool> {
        let _trip = count_db();
        let db = &self.db;
        // Retried on a lost race, as moderation's removal is: under concurrent replies InnoDB may pick it
        // as a deadlock victim (secondary-index locks of the thread's rows), and it is safe to run again.
        let deactivated = with_retries("the comment", || async move {
            on_db!(db, pool => async {
                let mut tx = pool.begin().await?;
                let changed = sqlx::query("UPDATE comment SET is_active = FALSE WHERE id = ? AND is_active = TRUE")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if changed > 0 {
                    shift_comment_counters!(tx, id.0, -1).await?;
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(changed > 0)
            })
        })
        .await?;
        if deactivated {
            settle_after(db, &self.galera, Written::Comment(id.0)).await;
        }
        Ok(deactivated)
    }

    async fn by_ids(&self, ids: &[CommentId]) -> AppResult<Vec<Comment>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let _trip = count_db();
        let rows: Vec<CommentRow> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(SELECT_COMMENTS);
            push_ids!(query, ids.iter().map(|id| id.0));
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|r| Comment {
                id: CommentId(r.id),
                post_id: PostId(r.post_id),
                author_id: UserId(r.user_id),
                created_at: r.created_datetime,
                is_active: r.is_active,
                content_html: markdown::stored_or_rendered(
                    r.content_html.map(String::from),
                    &r.content.0,
                ),
                content: r.content.0,
                version: r.version,
                updated_at: r.updated_datetime,
                vote_count: r.vote_count,
                removal: super::posts::removal(r.removed_datetime, r.removal_reason, r.removed_by),
                parent_id: r.parent_id.map(CommentId),
                depth: r.depth,
                reply_count: r.reply_count,
            })
            .collect())
    }

    async fn revisions(&self, ids: &[CommentId]) -> AppResult<Vec<(CommentId, Revision)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let _trip = count_db();
        let rows: Vec<RevisionRow> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(
                "SELECT comment_id AS owner_id, version, content, content_html, created_datetime FROM comment_content WHERE comment_id IN (",
            );
            push_ids!(query, ids.iter().map(|id| id.0));
            query.push(" ORDER BY comment_id, version");
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    CommentId(r.owner_id),
                    Revision {
                        version: r.version,
                        title: None,
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

    async fn pages_for_posts(
        &self,
        posts: &[PostId],
        page: &PageRequest<i64>,
        top_level_only: bool,
    ) -> AppResult<Vec<(PostId, Page<CommentId>)>> {
        if posts.is_empty() {
            return Ok(Vec::new());
        }
        let _trip = count_db();
        // One windowed query: the first `fetch` live comments of each post (oldest first, or newest first when
        // paging backwards), so a page of posts with their comments costs one round trip, not one per post.
        let rows: Vec<(i64, i64)> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT post_id, id FROM (SELECT c.post_id, c.id, ROW_NUMBER() OVER (PARTITION BY c.post_id ORDER BY c.id {}) AS rn \
                 FROM comment c WHERE c.is_active = TRUE AND c.post_id IN (",
                if page.backward { "DESC" } else { "ASC" }
            ));
            push_ids!(query, posts.iter().map(|id| id.0));
            if top_level_only {
                query.push(" AND c.depth = 0");
            }
            if let Some(after) = page.after {
                query.push(" AND c.id > ").push_bind(after);
            }
            if let Some(before) = page.before {
                query.push(" AND c.id < ").push_bind(before);
            }
            query.push(") ranked WHERE rn <= ").push_bind(page.fetch() as i64);
            query.push(" ORDER BY post_id, rn");
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(db_error)?;
        let mut grouped: BTreeMap<i64, Vec<CommentId>> =
            posts.iter().map(|p| (p.0, Vec::new())).collect();
        for (post, comment) in rows {
            grouped.entry(post).or_default().push(CommentId(comment));
        }
        Ok(grouped
            .into_iter()
            .map(|(post, ids)| (PostId(post), Page::from_rows(ids, page)))
            .collect())
    }

    async fn pages_for_parents(
        &self,
        parents: &[CommentId],
        page: &PageRequest<i64>,
    ) -> AppResult<Vec<(CommentId, Page<CommentId>)>> {
        threads::pages_for_parents(&self.db, parents, page).await
    }

    async fn page_for_author(
        &self,
        author: UserId,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<CommentId>> {
        let _trip = count_db();
        let rows: Vec<i64> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new("SELECT id FROM comment WHERE is_active = TRUE AND user_id = ");
            query.push_bind(author.0);
            if let Some(after) = page.after {
                query.push(" AND id < ").push_bind(after);
            }
            if let Some(before) = page.before {
                query.push(" AND id > ").push_bind(before);
            }
            query.push(if page.backward { " ORDER BY id ASC" } else { " ORDER BY id DESC" });
            query.push(" LIMIT ").push_bind(page.fetch() as i64);
            query.build_query_scalar().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(Page::from_rows(
            rows.into_iter().map(CommentId).collect(),
            page,
        ))
    }

    async fn count_for_author(&self, author: UserId) -> AppResult<i64> {
        let _trip = count_db();
        // The counter kept by every comment write, not a count of rows.
        on_db!(&self.db, pool => sqlx::query_scalar("SELECT COALESCE(MAX(comment_count), 0) FROM `user` WHERE id = ?")
            .bind(author.0)
            .fetch_one(pool)
            .await)
        .map_err(db_error)
    }
}
