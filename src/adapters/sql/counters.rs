//! Counters kept beside the rows they count (`post.vote_count`, `post.comment_count`, `user.post_count` …)
//! and how one is set back to its rows. Every write moves its counters in the transaction that writes
//! the row, so on one server they are exact. On a multi-primary Galera cluster two nodes' increments of
//! one counter can both commit (a lost update, docs/galera.md); there, once a write has committed, the
//! counters it moved are read against their rows and set to them when apart ([`settle`]).

use sqlx::{QueryBuilder, Row};

use super::{Db, ER_UNKNOWN_SYSTEM_VARIABLE, mysql_number, on_db, with_retries};
use crate::domain::AppResult;
use crate::request::count_db;
use crate::telemetry::metrics;

/// One kept counter: its column, and the rows it counts as a `COUNT(*)` in which `{id}` stands for the
/// id of the counter's row (table and column names, never user data).
#[derive(Debug)]
pub(crate) struct Tally {
    pub table: &'static str,
    pub column: &'static str,
    pub rows: &'static str,
    /// `table.column`, as metrics and logs name it.
    pub name: &'static str,
}

pub(crate) const POST_VOTES: Tally = Tally {
    table: "post",
    column: "vote_count",
    rows: "SELECT COUNT(*) FROM voter_post v WHERE v.post_id = {id}",
    name: "post.vote_count",
};
pub(crate) const COMMENT_VOTES: Tally = Tally {
    table: "comment",
    column: "vote_count",
    rows: "SELECT COUNT(*) FROM voter_comment v WHERE v.comment_id = {id}",
    name: "comment.vote_count",
};
pub(crate) const POST_COMMENTS: Tally = Tally {
    table: "post",
    column: "comment_count",
    rows: "SELECT COUNT(*) FROM comment c WHERE c.post_id = {id} AND c.is_active = TRUE",
    name: "post.comment_count",
};
pub(crate) const POST_TOP_COMMENTS: Tally = Tally {
    table: "post",
    column: "top_comment_count",
    rows: "SELECT COUNT(*) FROM comment c WHERE c.post_id = {id} AND c.is_active = TRUE AND c.depth = 0",
    name: "post.top_comment_count",
};
pub(crate) const COMMENT_REPLIES: Tally = Tally {
    table: "comment",
    column: "reply_count",
    rows: "SELECT COUNT(*) FROM comment r WHERE r.parent_id = {id} AND r.is_active = TRUE",
    name: "comment.reply_count",
};
pub(crate) const USER_COMMENTS: Tally = Tally {
    table: "`user`",
    column: "comment_count",
    rows: "SELECT COUNT(*) FROM comment c WHERE c.user_id = {id} AND c.is_active = TRUE",
    name: "user.comment_count",
};
pub(crate) const USER_POSTS: Tally = Tally {
    table: "`user`",
    column: "post_count",
    rows: "SELECT COUNT(*) FROM post p WHERE p.user_id = {id} AND p.is_active = TRUE",
    name: "user.post_count",
};
pub(crate) const CATEGORY_POSTS: Tally = Tally {
    table: "category",
    column: "post_count",
    rows: "SELECT COUNT(*) FROM post p WHERE p.category_id = {id} AND p.is_active = TRUE",
    name: "category.post_count",
};

/// What a committed write moved: counters its writer knows, or a row to read them from.
#[derive(Debug)]
pub(crate) enum Written {
    Counters(Vec<(&'static Tally, i64)>),
    Post(i64),
    Comment(i64),
}

/// The counters a post moves: its category's and its author's.
pub(crate) fn of_post(category: i64, author: i64) -> Written {
    Written::Counters(vec![(&CATEGORY_POSTS, category), (&USER_POSTS, author)])
}

/// The counters a comment moves: its post's two, its author's and, for a reply, its parent's.
pub(crate) fn of_comment(post: i64, author: i64, parent: Option<i64>) -> Written {
    let mut tallies = vec![
        (&POST_COMMENTS, post),
        (&POST_TOP_COMMENTS, post),
        (&USER_COMMENTS, author),
    ];
    tallies.extend(parent.map(|parent| (&COMMENT_REPLIES, parent)));
    Written::Counters(tallies)
}

/// The counters a write moved; for a row, read from it (one round trip), none when it is gone.
async fn moved_by(db: &Db, written: &Written) -> AppResult<Vec<(&'static Tally, i64)>> {
    let read = match *written {
        Written::Counters(ref tallies) => return Ok(tallies.clone()),
        Written::Post(id) => {
            let _trip = count_db();
            let owners: Option<(i64, i64)> = on_db!(db, pool => sqlx::query_as(
                "SELECT category_id, user_id FROM post WHERE id = ?",
            )
            .bind(id)
            .fetch_optional(pool)
            .await)
            .map_err(super::db_error)?;
            owners.map(|(category, author)| of_post(category, author))
        }
        Written::Comment(id) => {
            let _trip = count_db();
            let owners: Option<(i64, i64, Option<i64>)> = on_db!(db, pool => sqlx::query_as(
                "SELECT post_id, user_id, parent_id FROM comment WHERE id = ?",
            )
            .bind(id)
            .fetch_optional(pool)
            .await)
            .map_err(super::db_error)?;
            owners.map(|(post, author, parent)| of_comment(post, author, parent))
        }
    };
    Ok(match read {
        Some(Written::Counters(tallies)) => tallies,
        _ => Vec::new(),
    })
}

/// On Galera, settles the counters a committed write moved. The write stands either way: a settle that
/// fails is logged, and the next write of the same rows settles them.
pub(crate) async fn settle_after(db: &Db, galera: &GaleraProbe, written: Written) {
    if !galera.on(db).await {
        return;
    }
    let settled = match moved_by(db, &written).await {
        Ok(tallies) => settle(db, &tallies).await,
        Err(err) => Err(err),
    };
    if let Err(err) = settled {
        tracing::warn!(error = %err, ?written, "counters: could not check the counters of a write");
    }
}

/// Whether the database is a Galera node (`@@wsrep_on`), asked once per repository.
#[derive(Default)]
pub(crate) struct GaleraProbe(tokio::sync::OnceCell<bool>);

impl GaleraProbe {
    pub async fn on(&self, db: &Db) -> bool {
        let Db::MySql(pool) = db else {
            return false;
        };
        // Asked once, like a connection's set-up: not counted as a request's round trip. A server without
        // the variable is no Galera node; another error is asked again next time.
        let probe = self
            .0
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
}

/// Sets each counter to its rows when the two are apart, and answers how many it set. One read checks
/// them all; it waits for every write the cluster committed before it (`wsrep_sync_wait`), so it sees
/// the caller's write and every write acknowledged before it: the write that came last leaves each
/// counter exact. A fix runs only while the counter still holds what was read, so of the writers that
/// saw it apart one sets it. A counter whose row is gone is left alone.
pub(crate) async fn settle(db: &Db, tallies: &[(&'static Tally, i64)]) -> AppResult<u64> {
    if tallies.is_empty() {
        return Ok(0);
    }
    let read: Vec<(Option<i64>, i64)> = {
        let _trip = count_db();
        on_db!(db, pool => async {
            let mut query = QueryBuilder::new("SELECT ");
            for (i, (tally, id)) in tallies.iter().enumerate() {
                if i > 0 {
                    query.push(", ");
                }
                query.push(format!("(SELECT t.{} FROM {} t WHERE t.id = ", tally.column, tally.table));
                query.push_bind(*id);
                let (before, after) = tally.rows.split_once("{id}").unwrap_or((tally.rows, ""));
                query.push("), (").push(before).push_bind(*id).push(after).push(")");
            }
            let row = query.build().fetch_one(pool).await?;
            (0..tallies.len())
                .map(|i| Ok((row.try_get::<Option<i64>, _>(2 * i)?, row.try_get::<i64, _>(2 * i + 1)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })
        .map_err(super::db_error)?
    };
    let mut set = 0;
    for ((tally, id), (stored, counted)) in tallies.iter().zip(read) {
        let Some(stored) = stored else { continue };
        if stored == counted {
            continue;
        }
        let fix = format!(
            "UPDATE {table} SET {column} = ({rows}) WHERE id = ? AND {column} = ?",
            table = tally.table,
            column = tally.column,
            rows = tally.rows.replace("{id}", "?"),
        );
        let fix = &fix;
        let fixed = with_retries(tally.name, || async move {
            on_db!(db, pool => sqlx::query(fix)
                .bind(*id)
                .bind(*id)
                .bind(stored)
                .execute(pool)
                .await
                .map(|done| done.rows_affected()))
        })
        .await?;
        if fixed > 0 {
            set += 1;
            metrics::counter_settled(tally.name);
            tracing::warn!(
                counter = tally.name,
                id,
                stored,
                counted,
                "counters: a counter apart from its rows was set to them"
            );
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests;
