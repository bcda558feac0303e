//! `ModerationRepo` on sqlx. Each write changes its row only if it is not in the wanted state yet (the
//! `UPDATE … WHERE` both checks and takes the row lock), keeps the counters exact the way the author's
//! delete does, and writes its log entry in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::counters::{self, GaleraProbe, settle_after};
use super::mod_log::{self, write_mod_action};
use super::threads::shift_comment_counters;
use super::{Db, db_error, on_db, push_ids, with_retries};
use crate::domain::board::CATEGORY_MODERATORS_MAX;
use crate::domain::moderation::PINNED_MAX;
use crate::domain::page::{Page, PageRequest};
use crate::domain::{
    AppError, AppResult, CategoryId, CommentId, ModAction, ModActionId, NewModAction, PostId,
    Removal, UserId,
};
use crate::ports::ModerationRepo;
use crate::request::count_db;

pub struct SqlModerationRepo {
    db: Db,
    galera: GaleraProbe,
}

impl SqlModerationRepo {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            galera: GaleraProbe::default(),
        }
    }
}

/// What a moderation write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    Changed,
    /// Already in the wanted state: nothing written, nothing logged.
    Unchanged,
    /// No such row, or deleted by its author.
    Missing,
    /// Every pin place of the category is taken.
    Full,
}

fn outcome(written: Written, what: &str) -> AppResult<bool> {
    match written {
        Written::Changed => Ok(true),
        Written::Unchanged => Ok(false),
        Written::Missing => Err(AppError::NotFound(format!("no such {what}"))),
        Written::Full => Err(AppError::conflict(
            "postId",
            format!(
                "the category already has {PINNED_MAX} pinned posts (the most it may have); unpin one first"
            ),
        )),
    }
}

/// The SQL that differs between a post and a comment removal: the table and the counters to keep.
struct Removable {
    table: &'static str,
    /// Counter updates run once the row changed; `?` is the row id.
    leave: &'static [&'static str],
    back: &'static [&'static str],
    /// A comment's counters (its parent's replies, its post's, its author's) move as its delete moves them
    /// (`shift_comment_counters!`, in the lock order of docs/threads.md).
    comment: bool,
    /// The row, as the counters' settle on Galera names it.
    written: fn(i64) -> counters::Written,
}

const POST: Removable = Removable {
    table: "post",
    leave: &[
        "UPDATE category SET post_count = post_count - 1 WHERE id = (SELECT category_id FROM post WHERE id = ?)",
        "UPDATE `user` SET post_count = post_count - 1 WHERE id = (SELECT user_id FROM post WHERE id = ?)",
    ],
    back: &[
        "UPDATE category SET post_count = post_count + 1 WHERE id = (SELECT category_id FROM post WHERE id = ?)",
        "UPDATE `user` SET post_count = post_count + 1 WHERE id = (SELECT user_id FROM post WHERE id = ?)",
    ],
    comment: false,
    written: counters::Written::Post,
};

const COMMENT: Removable = Removable {
    table: "comment",
    leave: &[],
    back: &[],
    comment: true,
    written: counters::Written::Comment,
};

impl SqlModerationRepo {
    async fn remove(
        &self,
        what: &Removable,
        id: i64,
        removal: &Removal,
        log: &NewModAction,
    ) -> AppResult<Written> {
        let db = &self.db;
        let remove = format!(
            "UPDATE {} SET is_active = FALSE, removed_datetime = ?, removal_reason = ?, removed_by = ? \
             WHERE id = ? AND is_active = TRUE",
            what.table
        );
        let state = format!("SELECT removed_datetime FROM {} WHERE id = ?", what.table);
        let (remove, state) = (&remove, &state);
        let written = with_retries(what.table, || async move {
            on_db!(db, pool => async {
                let mut tx = pool.begin().await?;
                let changed = sqlx::query(remove)
                    .bind(removal.removed_at)
                    .bind(removal.reason.as_deref())
                    .bind(removal.removed_by.0)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if changed == 0 {
                    let found: Option<Option<DateTime<Utc>>> =
                        sqlx::query_scalar(state).bind(id).fetch_optional(&mut *tx).await?;
                    tx.rollback().await?;
                    return Ok(match found {
                        Some(Some(_)) => Written::Unchanged,
                        _ => Written::Missing,
                    });
                }
                for counter in what.leave {
                    sqlx::query(counter).bind(id).execute(&mut *tx).await?;
                }
                if what.comment {
                    shift_comment_counters!(tx, id, -1).await?;
                }
                write_mod_action!(&mut *tx, log)?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Written::Changed)
            })
        })
        .await?;
        if matches!(written, Written::Changed) {
            settle_after(db, &self.galera, (what.written)(id)).await;
        }
        Ok(written)
    }

    async fn restore(&self, what: &Removable, id: i64, log: &NewModAction) -> AppResult<Written> {
        let db = &self.db;
        // Removed rows only: the author's delete (no removal recorded) is never undone here.
        let restore = format!(
            "UPDATE {} SET is_active = TRUE, removed_datetime = NULL, removal_reason = NULL, removed_by = NULL \
             WHERE id = ? AND removed_datetime IS NOT NULL",
            what.table
        );
        let state = format!("SELECT is_active FROM {} WHERE id = ?", what.table);
        let (restore, state) = (&restore, &state);
        let written = with_retries(what.table, || async move {
            on_db!(db, pool => async {
                let mut tx = pool.begin().await?;
                let changed = sqlx::query(restore)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if changed == 0 {
                    let active: Option<bool> =
                        sqlx::query_scalar(state).bind(id).fetch_optional(&mut *tx).await?;
                    tx.rollback().await?;
                    return Ok(if active == Some(true) { Written::Unchanged } else { Written::Missing });
                }
                for counter in what.back {
                    sqlx::query(counter).bind(id).execute(&mut *tx).await?;
                }
                if what.comment {
                    shift_comment_counters!(tx, id, 1).await?;
                }
                write_mod_action!(&mut *tx, log)?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Written::Changed)
            })
        })
        .await?;
        if matches!(written, Written::Changed) {
            settle_after(db, &self.galera, (what.written)(id)).await;
        }
        Ok(written)
    }
}

fn set_moderator_error(err: sqlx::Error) -> AppError {
    match err.as_database_error() {
        Some(db) if db.is_foreign_key_violation() => {
            AppError::NotFound("no such user or category".into())
        }
        _ => db_error(err),
    }
}

#[async_trait]
impl ModerationRepo for SqlModerationRepo {
    async fn set_moderator(
        &self,
        category: CategoryId,
        user: UserId,
        moderator: bool,
        log: &NewModAction,
    ) -> AppResult<bool> {
        let db = &self.db;
        super::retry_lost_races("the moderators", set_moderator_error, || async move {
            on_db!(db, pool => async {
                let mut tx = pool.begin().await?;
                let changed = if moderator {
                    let exists: Option<i64> = sqlx::query_scalar(
                        "SELECT user_id FROM category_moderator WHERE category_id = ? AND user_id = ?",
                    )
                    .bind(category.0)
                    .bind(user.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if exists.is_some() {
                        0
                    } else {
                        // Appointments to one category are serialised by its row's lock (MariaDB; SQLite
                        // has one writer), so the cap holds under concurrent appointments.
                        if matches!(db, Db::MySql(_)) {
                            sqlx::query("SELECT id FROM category WHERE id = ? FOR UPDATE")
                                .bind(category.0)
                                .fetch_optional(&mut *tx)
                                .await?;
                        }
                        let appointed: i64 = sqlx::query_scalar(
                            "SELECT COUNT(*) FROM category_moderator WHERE category_id = ?",
                        )
                        .bind(category.0)
                        .fetch_one(&mut *tx)
                        .await?;
                        if appointed >= CATEGORY_MODERATORS_MAX as i64 {
                            return Ok(Err(AppError::conflict(
                                "userId",
                                format!(
                                    "a category has at most {CATEGORY_MODERATORS_MAX} moderators; dismiss one first"
                                ),
                            )));
                        }
                        sqlx::query(
                            "INSERT INTO category_moderator (category_id, user_id, created_datetime) VALUES (?, ?, ?)",
                        )
                        .bind(category.0)
                        .bind(user.0)
                        .bind(log.created_at)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                    }
                } else {
                    sqlx::query("DELETE FROM category_moderator WHERE category_id = ? AND user_id = ?")
                        .bind(category.0)
                        .bind(user.0)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                };
                if changed == 0 {
                    tx.rollback().await?;
                    return Ok(Ok(false));
                }
                write_mod_action!(&mut *tx, log)?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Ok(true))
            })
        })
        .await?
    }

    async fn remove_post(
        &self,
        id: PostId,
        removal: &Removal,
        log: &NewModAction,
    ) -> AppResult<bool> {
        outcome(self.remove(&POST, id.0, removal, log).await?, "post")
    }

    async fn restore_post(&self, id: PostId, log: &NewModAction) -> AppResult<bool> {
        outcome(self.restore(&POST, id.0, log).await?, "post")
    }

    async fn remove_comment(
        &self,
        id: CommentId,
        removal: &Removal,
        log: &NewModAction,
    ) -> AppResult<bool> {
        outcome(self.remove(&COMMENT, id.0, removal, log).await?, "comment")
    }

    async fn restore_comment(&self, id: CommentId, log: &NewModAction) -> AppResult<bool> {
        outcome(self.restore(&COMMENT, id.0, log).await?, "comment")
    }

    async fn lock_post(
        &self,
        id: PostId,
        locked: bool,
        reason: Option<&str>,
        log: &NewModAction,
    ) -> AppResult<bool> {
        let db = &self.db;
        let written = with_retries("the post", || async move {
            on_db!(db, pool => async {
                let mut tx = pool.begin().await?;
                let changed = sqlx::query(
                    "UPDATE post SET locked = ?, lock_reason = ? WHERE id = ? AND is_active = TRUE AND locked <> ?",
                )
                .bind(locked)
                .bind(if locked { reason } else { None })
                .bind(id.0)
                .bind(locked)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed == 0 {
                    let found: Option<bool> =
                        sqlx::query_scalar("SELECT is_active FROM post WHERE id = ?")
                            .bind(id.0)
                            .fetch_optional(&mut *tx)
                            .await?;
                    tx.rollback().await?;
                    return Ok(if found == Some(true) { Written::Unchanged } else { Written::Missing });
                }
                write_mod_action!(&mut *tx, log)?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Written::Changed)
            })
        })
        .await?;
        outcome(written, "post")
    }

    async fn pin_post(
        &self,
        id: PostId,
        pinned: bool,
        at: DateTime<Utc>,
        log: &NewModAction,
    ) -> AppResult<bool> {
        let db = &self.db;
        let written = with_retries("the post", || async move {
            on_db!(db, pool => async {
                let mut tx = pool.begin().await?;
                // The post's row first (as every post write), then its category's counter.
                let changed = if pinned {
                    sqlx::query("UPDATE post SET pinned_datetime = ? WHERE id = ? AND is_active = TRUE AND pinned_datetime IS NULL")
                        .bind(at)
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                } else {
                    // A removed or deleted post may be unpinned (its place is freed).
                    sqlx::query("UPDATE post SET pinned_datetime = NULL WHERE id = ? AND pinned_datetime IS NOT NULL")
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                };
                if changed == 0 {
                    let found: Option<bool> =
                        sqlx::query_scalar("SELECT is_active FROM post WHERE id = ?")
                            .bind(id.0)
                            .fetch_optional(&mut *tx)
                            .await?;
                    tx.rollback().await?;
                    let unchanged = match found {
                        Some(active) => active || !pinned,
                        None => false,
                    };
                    return Ok(if unchanged { Written::Unchanged } else { Written::Missing });
                }
                let counted = if pinned {
                    // The reservation: the category's row lock orders concurrent pins, and the condition
                    // is checked against the count the previous pin committed.
                    sqlx::query(
                        "UPDATE category SET pinned_count = pinned_count + 1 \
                         WHERE id = (SELECT category_id FROM post WHERE id = ?) AND pinned_count < ?",
                    )
                    .bind(id.0)
                    .bind(PINNED_MAX)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                } else {
                    sqlx::query(
                        "UPDATE category SET pinned_count = pinned_count - 1 \
                         WHERE id = (SELECT category_id FROM post WHERE id = ?)",
                    )
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                };
                if counted == 0 {
                    tx.rollback().await?;
                    return Ok(Written::Full);
                }
                write_mod_action!(&mut *tx, log)?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Written::Changed)
            })
        })
        .await?;
        outcome(written, "post")
    }

    async fn pinned_posts(
        &self,
        categories: &[CategoryId],
    ) -> AppResult<Vec<(CategoryId, PostId)>> {
        if categories.is_empty() {
            return Ok(Vec::new());
        }
        let _trip = count_db();
        let rows: Vec<(i64, i64)> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(
                "SELECT category_id, id FROM post WHERE pinned_datetime IS NOT NULL AND category_id IN (",
            );
            push_ids!(query, categories.iter().map(|c| c.0));
            query.push(" ORDER BY pinned_datetime DESC, id DESC");
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(category, post)| (CategoryId(category), PostId(post)))
            .collect())
    }

    async fn log_page(
        &self,
        categories: Option<&[CategoryId]>,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<ModAction>> {
        mod_log::log_page(&self.db, categories, page).await
    }

    async fn log_count(&self, categories: Option<&[CategoryId]>) -> AppResult<i64> {
        mod_log::log_count(&self.db, categories).await
    }

    async fn actions_by_ids(&self, ids: &[ModActionId]) -> AppResult<Vec<ModAction>> {
        mod_log::by_ids(&self.db, ids).await
    }
}
