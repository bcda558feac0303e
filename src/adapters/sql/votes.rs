//! `VoteRepo` on sqlx. The voter tables' primary keys arbitrate concurrent votes; the counters move only
//! when a row was really added or removed, in the same transaction, so they stay exact. On a Galera
//! cluster, where two nodes' increments of one counter can both commit (a lost update, docs/galera.md),
//! each vote then checks the counter against the voter rows and settles it.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use chrono::{DateTime, Utc};

use super::bans::{BANNED_AT_COMMENT, BANNED_AT_POST, banned_until};
use super::counters::{self, GaleraProbe, Tally};
use super::{Db, db_error, on_db, push_ids, with_retries};

use crate::domain::bans;
use crate::domain::{AppError, AppResult, CommentId, PostId, UserId};
use crate::ports::VoteRepo;
use crate::request::count_db;

pub struct SqlVoteRepo {
    db: Db,
    galera: GaleraProbe,
}

impl SqlVoteRepo {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            galera: GaleraProbe::default(),
        }
    }

    /// `INSERT IGNORE` (MariaDB) / `INSERT OR IGNORE` (SQLite).
    fn insert_ignore(&self) -> &'static str {
        match self.db {
            Db::MySql(_) => "INSERT IGNORE",
            Db::Sqlite(_) => "INSERT OR IGNORE",
        }
    }
}

/// The answer to a vote that committed but whose counter could not be checked against its voter rows.
fn unsettled(target: &Target) -> AppError {
    AppError::Unavailable(format!(
        "the {} vote was recorded, but its count could not be checked; send it again",
        target.what
    ))
}

/// The SQL of one kind of vote: on posts or on comments (table and column names, never user data).
struct Target {
    voters: &'static str,
    key: &'static str,
    table: &'static str,
    what: &'static str,
    /// The ban check of the voter at this target (see `bans`).
    banned: &'static str,
    /// Its vote counter, checked against the voter rows on Galera.
    tally: &'static Tally,
}

const POST: Target = Target {
    voters: "voter_post",
    key: "post_id",
    table: "post",
    what: "post",
    banned: BANNED_AT_POST,
    tally: &counters::POST_VOTES,
};
const COMMENT: Target = Target {
    voters: "voter_comment",
    key: "comment_id",
    table: "comment",
    what: "comment",
    banned: BANNED_AT_COMMENT,
    tally: &counters::COMMENT_VOTES,
};

impl SqlVoteRepo {
    /// Adds (`delta` = 1) or removes (`delta` = -1) the user's vote. The counter is moved first: that takes the
    /// row's exclusive lock up front, so concurrent voters queue instead of deadlocking (taking a shared lock
    /// for the foreign-key check and upgrading it later deadlocks on MariaDB). When the vote row was already
    /// there (or already gone), the transaction is rolled back and nothing changes.
    ///
    /// A new vote (`at` given) is refused when the voter is banned from the target's category: checked under a
    /// shared lock of the voter's row on MariaDB, which a ban's transaction holds exclusively until it commits
    /// (and skipped when that row's `ban_version` says no ban was ever given to them).
    async fn change(
        &self,
        target: &Target,
        user: UserId,
        id: i64,
        delta: i64,
        at: Option<DateTime<Utc>>,
    ) -> AppResult<bool> {
        let lock_voter = match self.db {
            Db::MySql(_) => "SELECT ban_version FROM `user` WHERE id = ? LOCK IN SHARE MODE",
            Db::Sqlite(_) => "SELECT ban_version FROM `user` WHERE id = ?",
        };
        let counter = format!(
            "UPDATE {} SET vote_count = vote_count + ? WHERE id = ? AND is_active = TRUE",
            target.table
        );
        let row = if delta > 0 {
            format!(
                "{} INTO {} (user_id, {}) VALUES (?, ?)",
                self.insert_ignore(),
                target.voters,
                target.key
            )
        } else {
            format!(
                "DELETE FROM {} WHERE user_id = ? AND {} = ?",
                target.voters, target.key
            )
        };
        let db = &self.db;
        let (counter, row) = (&counter, &row);
        let outcome: Option<Result<bool, Option<DateTime<Utc>>>> = with_retries(target.what, || async move {
            on_db!(db, pool => async {
                let mut tx = pool.begin().await?;
                let live = sqlx::query(counter).bind(delta).bind(id).execute(&mut *tx).await?.rows_affected();
                if live == 0 {
                    tx.rollback().await?;
                    return Ok(None);
                }
                if let Some(at) = at {
                    let bans: Option<i64> = sqlx::query_scalar(lock_voter).bind(user.0).fetch_optional(&mut *tx).await?;
                    // Every ban moves the voter's `ban_version` first: at 0 they were never banned anywhere.
                    let never_banned = bans == Some(0);
                    if !never_banned && let Some(until) = banned_until!(tx, target.banned, id, user.0, at).await? {
                        tx.rollback().await?;
                        return Ok(Some(Err(until)));
                    }
                }
                let changed = sqlx::query(row).bind(user.0).bind(id).execute(&mut *tx).await?.rows_affected();
                if changed == 0 {
                    tx.rollback().await?;
                    return Ok(Some(Ok(false)));
                }
                tx.commit().await?;
                Ok(Some(Ok(true)))
            })
        })
        .await?;
        match outcome {
            Some(Ok(changed)) => {
                // Also when nothing changed: a client's retry of a vote whose first attempt committed (its
                // answer lost with a node) settles what that attempt could not.
                // When the check fails (a node lost under it), the vote, already committed, answers
                // SERVICE_UNAVAILABLE: the retry changes nothing and settles the counter then.
                if self.galera.on(&self.db).await
                    && let Err(err) = counters::settle(&self.db, &[(target.tally, id)]).await
                {
                    tracing::warn!(error = %err, what = target.what, id, "votes: could not check the counter");
                    return Err(unsettled(target));
                }
                Ok(changed)
            }
            Some(Err(until)) => Err(bans::banned_here(until)),
            None => Err(AppError::NotFound(format!("no such {}", target.what))),
        }
    }

    async fn voted(&self, target: &Target, user: UserId, ids: &[i64]) -> AppResult<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let _trip = count_db();
        on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(format!("SELECT {} FROM {} WHERE user_id = ", target.key, target.voters));
            query.push_bind(user.0).push(format!(" AND {} IN (", target.key));
            push_ids!(query, ids.iter().copied());
            query.build_query_scalar().fetch_all(pool).await
        })
        .map_err(db_error)
    }
}

#[async_trait]
impl VoteRepo for SqlVoteRepo {
    async fn vote_post(&self, user: UserId, post: PostId, at: DateTime<Utc>) -> AppResult<bool> {
        self.change(&POST, user, post.0, 1, Some(at)).await
    }

    async fn unvote_post(&self, user: UserId, post: PostId) -> AppResult<bool> {
        self.change(&POST, user, post.0, -1, None).await
    }

    async fn vote_comment(
        &self,
        user: UserId,
        comment: CommentId,
        at: DateTime<Utc>,
    ) -> AppResult<bool> {
        self.change(&COMMENT, user, comment.0, 1, Some(at)).await
    }

    async fn unvote_comment(&self, user: UserId, comment: CommentId) -> AppResult<bool> {
        self.change(&COMMENT, user, comment.0, -1, None).await
    }

    async fn voted_posts(&self, user: UserId, posts: &[PostId]) -> AppResult<Vec<PostId>> {
        let ids: Vec<i64> = posts.iter().map(|p| p.0).collect();
        Ok(self
            .voted(&POST, user, &ids)
            .await?
            .into_iter()
            .map(PostId)
            .collect())
    }

    async fn voted_comments(
        &self,
        user: UserId,
        comments: &[CommentId],
    ) -> AppResult<Vec<CommentId>> {
        let ids: Vec<i64> = comments.iter().map(|c| c.0).collect();
        Ok(self
            .voted(&COMMENT, user, &ids)
            .await?
            .into_iter()
            .map(CommentId)
            .collect())
    }
}
