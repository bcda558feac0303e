//! `VoteRepo` on sqlx. The voter tables' primary keys arbitrate concurrent votes; the counters move only
//! when a row was really added or removed, in the same transaction, so they stay exact. On a Galera
//! cluster, where two nodes' increments of one counter can both commit (a lost update, docs/galera.md),
//! each vote then checks the counter against the voter rows and settles it.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use chrono::{DateTime, Utc};

use super::bans::{BANNED_AT_COMMENT, BANNED_AT_POST, banned_until};
use super::{
    Db, ER_UNKNOWN_SYSTEM_VARIABLE, db_error, mysql_number, on_db, push_ids, with_retries,
};

use crate::domain::bans;
use crate::domain::{AppError, AppResult, CommentId, PostId, UserId};
use crate::ports::VoteRepo;
use crate::request::count_db;
use crate::telemetry::metrics;

pub struct SqlVoteRepo {
    db: Db,
    /// Whether the database is a Galera node (`@@wsrep_on`), asked once.
    galera: tokio::sync::OnceCell<bool>,
}

impl SqlVoteRepo {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            galera: tokio::sync::OnceCell::new(),
        }
    }

    async fn on_galera(&self) -> bool {
        let Db::MySql(pool) = &self.db else {
            return false;
        };
        // Asked once per process, like a connection's set-up: not counted as a request's round trip. A
        // server without the variable is no Galera node; another error is asked again next time.
        let probe = self
            .galera
            .get_or_try_init(|| async {
                match sqlx::query_scalar::<_, i64>("SELECT @@wsrep_on")
                    .fetch_one(pool)
                    .await
                {
                    Ok(on) => Ok(on == 1),
                    Err(err) if mysql_number(&err) == Some(ER_UNKNOWN_SYSTEM_VARIABLE) => Ok(false),
                    Err(err) => Err(err),
                }
            })
            .await;
        probe.is_ok_and(|on| *on)
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
}

const POST: Target = Target {
    voters: "voter_post",
    key: "post_id",
    table: "post",
    what: "post",
    banned: BANNED_AT_POST,
};
const COMMENT: Target = Target {
    voters: "voter_comment",
    key: "comment_id",
    table: "comment",
    what: "comment",
    banned: BANNED_AT_COMMENT,
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
                if self.on_galera().await {
                    self.settle(target, id).await?;
                }
                Ok(changed)
            }
            Some(Err(until)) => Err(bans::banned_here(until)),
            None => Err(AppError::NotFound(format!("no such {}", target.what))),
        }
    }

    /// Sets the target's counter to its voter rows when the two are apart. The read waits for every write
    /// the cluster committed before it (`wsrep_sync_wait`), so it sees this vote and every vote acknowledged
    /// before it; the vote that came last therefore leaves the counter exact. When the check or the fix
    /// fails (a node lost under it), the vote, already committed, answers `SERVICE_UNAVAILABLE`: the
    /// client's retry changes nothing (a vote is idempotent) and settles the counter then.
    async fn settle(&self, target: &Target, id: i64) -> AppResult<()> {
        let check = format!(
            "SELECT t.vote_count, (SELECT COUNT(*) FROM {voters} v WHERE v.{key} = t.id) FROM {table} t WHERE t.id = ?",
            voters = target.voters,
            key = target.key,
            table = target.table
        );
        // Only while the counter still holds what was read: of the votes that saw it apart, one sets it.
        let fix = format!(
            "UPDATE {table} SET vote_count = (SELECT COUNT(*) FROM {voters} WHERE {key} = ?) \
             WHERE id = ? AND vote_count = ?",
            voters = target.voters,
            key = target.key,
            table = target.table
        );
        let read = {
            let _trip = count_db();
            on_db!(&self.db, pool => {
                sqlx::query_as::<_, (i64, i64)>(&check).bind(id).fetch_optional(pool).await
            })
        };
        let (stored, counted) = match read {
            Ok(Some(pair)) => pair,
            Ok(None) => return Ok(()),
            Err(err) => {
                tracing::warn!(error = %err, what = target.what, id, "votes: could not check the counter");
                return Err(unsettled(target));
            }
        };
        if stored == counted {
            return Ok(());
        }
        let db = &self.db;
        let fix = &fix;
        let fixed = with_retries(target.what, || async move {
            on_db!(db, pool => sqlx::query(fix)
                .bind(id)
                .bind(id)
                .bind(stored)
                .execute(pool)
                .await
                .map(|done| done.rows_affected()))
        })
        .await;
        match fixed {
            Ok(0) => {}
            Ok(_) => {
                metrics::counter_settled(target.what);
                tracing::warn!(
                    what = target.what,
                    id,
                    stored,
                    counted,
                    "votes: counter settled to its voter rows"
                );
            }
            Err(err) => {
                tracing::warn!(error = %err, what = target.what, id, "votes: could not settle the counter");
                return Err(unsettled(target));
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{POST, SqlVoteRepo};
    use crate::adapters::sql::seed::{SeedOptions, seed};
    use crate::adapters::sql::{Db, on_db};
    use crate::config::{DbSettings, SecretUrl};

    async fn connect(url: &str) -> Db {
        let db = Db::connect(&DbSettings {
            url: SecretUrl::new(url),
            read_url: None,
            read_your_writes: Duration::ZERO,
            max_connections: 4,
            acquire_timeout: Duration::from_secs(5),
            auto_migrate: true,
        })
        .await
        .expect("the test database answers");
        db.migrate().await.unwrap();
        db
    }

    async fn scalar(db: &Db, sql: &str) -> i64 {
        on_db!(db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
    }

    /// Two new posts with 3 voters each; the first one's counter is set 1 below its rows (what a lost
    /// update leaves). `settle` must set it to 3 and leave the other at 3, and answer an error it cannot
    /// check.
    async fn settles(db: Db) {
        let options = SeedOptions {
            users: 5,
            posts: 2,
            comments_per_post: 0,
            votes_per_post: 3,
        };
        seed(&db, &options, "x", chrono::Utc::now()).await.unwrap();
        let other = scalar(&db, "SELECT MAX(id) FROM post").await;
        let post = scalar(&db, &format!("SELECT MAX(id) FROM post WHERE id < {other}")).await;
        let drift = format!("UPDATE post SET vote_count = vote_count - 1 WHERE id = {post}");
        on_db!(&db, pool => sqlx::query(&drift).execute(pool).await.map(|_| ())).unwrap();
        let repo = SqlVoteRepo::new(db.clone());
        repo.settle(&POST, post).await.unwrap();
        repo.settle(&POST, other).await.unwrap();
        for id in [post, other] {
            let shown = format!("SELECT vote_count FROM post WHERE id = {id}");
            assert_eq!(scalar(&db, &shown).await, 3, "post {id}");
        }
        // A settle that cannot check (the database lost under it) asks for the vote again.
        db.close().await;
        assert!(matches!(
            repo.settle(&POST, post).await,
            Err(crate::domain::AppError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn settle_sets_a_counter_apart_from_its_rows_and_leaves_an_exact_one() {
        settles(connect("sqlite::memory:").await).await;
    }

    #[tokio::test]
    #[ignore = "needs TEST_DATABASE_URL"]
    async fn settle_sets_a_counter_apart_from_its_rows_and_leaves_an_exact_one_on_mariadb() {
        let url = std::env::var("TEST_DATABASE_URL").expect(
            "this test needs TEST_DATABASE_URL (`cargo test -- --include-ignored` runs it)",
        );
        settles(connect(&url).await).await;
    }
}
