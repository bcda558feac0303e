//! `VoteRepo` on sqlx. The voter tables' primary keys arbitrate concurrent votes; the counters move only
//! when a row was really added or removed, in the same transaction, so they stay exact.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use super::{Db, db_error, on_db};
use crate::domain::{AppError, AppResult, CommentId, PostId, UserId};
use crate::ports::VoteRepo;
use crate::telemetry::roundtrips::count_db;

pub struct SqlVoteRepo {
    db: Db,
}

impl SqlVoteRepo {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// `INSERT IGNORE` (MariaDB) / `INSERT OR IGNORE` (SQLite).
    fn insert_ignore(&self) -> &'static str {
        match self.db {
            Db::MySql(_) => "INSERT IGNORE",
            Db::Sqlite(_) => "INSERT OR IGNORE",
        }
    }
}

/// The SQL of one kind of vote: on posts or on comments (table and column names, never user data).
struct Target {
    voters: &'static str,
    key: &'static str,
    table: &'static str,
    what: &'static str,
}

const POST: Target = Target {
    voters: "voter_post",
    key: "post_id",
    table: "post",
    what: "post",
};
const COMMENT: Target = Target {
    voters: "voter_comment",
    key: "comment_id",
    table: "comment",
    what: "comment",
};

impl SqlVoteRepo {
    async fn vote(&self, target: &Target, user: UserId, id: i64) -> AppResult<bool> {
        count_db();
        let insert = format!(
            "{} INTO {} (user_id, {}) SELECT ?, id FROM {} WHERE id = ? AND is_active = TRUE",
            self.insert_ignore(),
            target.voters,
            target.key,
            target.table
        );
        let bump = format!(
            "UPDATE {} SET vote_count = vote_count + 1 WHERE id = ?",
            target.table
        );
        let exists = format!(
            "SELECT COUNT(*) FROM {} WHERE id = ? AND is_active = TRUE",
            target.table
        );
        let outcome: Option<bool> = on_db!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let added = sqlx::query(&insert).bind(user.0).bind(id).execute(&mut *tx).await?.rows_affected();
            if added > 0 {
                sqlx::query(&bump).bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                return Ok::<_, sqlx::Error>(Some(true));
            }
            let live: i64 = sqlx::query_scalar(&exists).bind(id).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok(if live > 0 { Some(false) } else { None })
        })
        .map_err(db_error)?;
        outcome.ok_or_else(|| AppError::NotFound(format!("no such {}", target.what)))
    }

    async fn unvote(&self, target: &Target, user: UserId, id: i64) -> AppResult<bool> {
        count_db();
        let delete = format!(
            "DELETE FROM {} WHERE user_id = ? AND {} = ?",
            target.voters, target.key
        );
        let drop = format!(
            "UPDATE {} SET vote_count = vote_count - 1 WHERE id = ?",
            target.table
        );
        let exists = format!(
            "SELECT COUNT(*) FROM {} WHERE id = ? AND is_active = TRUE",
            target.table
        );
        let outcome: Option<bool> = on_db!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let removed = sqlx::query(&delete).bind(user.0).bind(id).execute(&mut *tx).await?.rows_affected();
            if removed > 0 {
                sqlx::query(&drop).bind(id).execute(&mut *tx).await?;
            }
            let live: i64 = sqlx::query_scalar(&exists).bind(id).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(if live > 0 { Some(removed > 0) } else { None })
        })
        .map_err(db_error)?;
        outcome.ok_or_else(|| AppError::NotFound(format!("no such {}", target.what)))
    }

    async fn voted(&self, target: &Target, user: UserId, ids: &[i64]) -> AppResult<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        count_db();
        on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(format!("SELECT {} FROM {} WHERE user_id = ", target.key, target.voters));
            query.push_bind(user.0).push(format!(" AND {} IN (", target.key));
            let mut list = query.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            query.push(")");
            query.build_query_scalar().fetch_all(pool).await
        })
        .map_err(db_error)
    }
}

#[async_trait]
impl VoteRepo for SqlVoteRepo {
    async fn vote_post(&self, user: UserId, post: PostId) -> AppResult<bool> {
        self.vote(&POST, user, post.0).await
    }

    async fn unvote_post(&self, user: UserId, post: PostId) -> AppResult<bool> {
        self.unvote(&POST, user, post.0).await
    }

    async fn vote_comment(&self, user: UserId, comment: CommentId) -> AppResult<bool> {
        self.vote(&COMMENT, user, comment.0).await
    }

    async fn unvote_comment(&self, user: UserId, comment: CommentId) -> AppResult<bool> {
        self.unvote(&COMMENT, user, comment.0).await
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
