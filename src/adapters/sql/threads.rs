//! The SQL of threaded replies (docs/threads.md): where a reply goes, the counters a comment's arrival or
//! departure moves, and pages of replies. Lock order, in every comment write: comment rows deepest first
//! (the comment itself, then its parent), then the post, then the author — so a reply (its parent, then the
//! post) and a delete of a sibling or a child (the child, its parent, the post) never wait on each other in
//! a cycle.

use std::collections::BTreeMap;

use sqlx::QueryBuilder;

use super::{Db, db_error, on_db, push_ids};
use crate::domain::page::{Page, PageRequest};
use crate::domain::threads::{Placement, ReplyTarget};
use crate::domain::{AppResult, CommentId, PostId};
use crate::request::count_db;

/// A reply's place, decided first in its transaction (`$tx`): locks and reads the comment it answers,
/// applies [`crate::domain::threads::place_reply`], and counts the reply on the comment it goes under — for
/// a direct reply only while that comment is live (checked under its row lock). Evaluates to
/// `Result<AppResult<Placement>, sqlx::Error>`; on an `Err` placement the caller rolls back.
macro_rules! place_reply {
    ($tx:expr, $post:expr, $parent:expr) => {
        async {
            let parent: Option<$crate::domain::CommentId> = $parent;
            let Some(answered) = parent else {
                return Ok::<_, sqlx::Error>(Ok($crate::domain::threads::Placement::TOP_LEVEL));
            };
            // A write first: it takes the answered comment's row lock (the deepest comment this write
            // touches: the lock order above) and SQLite's write lock, so the read below cannot go stale
            // before the writes that depend on it (SQLite would refuse them: busy snapshot).
            sqlx::query("UPDATE comment SET reply_count = reply_count WHERE id = ?")
                .bind(answered.0)
                .execute(&mut *$tx)
                .await?;
            let row: Option<(i64, Option<i64>, i32, bool)> = sqlx::query_as(
                "SELECT post_id, parent_id, depth, is_active FROM comment WHERE id = ?",
            )
            .bind(answered.0)
            .fetch_optional(&mut *$tx)
            .await?;
            let target = row.map(|(post_id, parent_id, depth, is_active)| {
                $crate::adapters::sql::threads::target(answered, post_id, parent_id, depth, is_active)
            });
            let placement = match $crate::domain::threads::place_reply($post, target.as_ref()) {
                Ok(placement) => placement,
                Err(err) => return Ok(Err(err)),
            };
            let Some(under) = placement.parent else {
                return Ok(Ok(placement));
            };
            let direct = target.is_some_and(|t| placement.answers(&t));
            let counted = sqlx::query(
                "UPDATE comment SET reply_count = reply_count + 1 WHERE id = ? AND (is_active = TRUE OR ?)",
            )
            .bind(under.0)
            .bind(!direct)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
            Ok(if counted == 0 {
                Err($crate::domain::AppError::invalid(
                    "parentId",
                    "the comment was deleted or removed",
                ))
            } else {
                Ok(placement)
            })
        }
    };
}
pub(crate) use place_reply;

/// Moves the counters a comment (`$id`, just deleted, removed or restored in `$tx`) counts in by `$delta`:
/// its parent's replies, its post's comments (and top-level comments), its author's comments. Evaluates
/// to `Result<(), sqlx::Error>`.
macro_rules! shift_comment_counters {
    ($tx:expr, $id:expr, $delta:expr) => {
        async {
            let id: i64 = $id;
            let delta: i64 = $delta;
            let (post, parent, author): (i64, Option<i64>, i64) =
                sqlx::query_as("SELECT post_id, parent_id, user_id FROM comment WHERE id = ?")
                    .bind(id)
                    .fetch_one(&mut *$tx)
                    .await?;
            if let Some(parent) = parent {
                sqlx::query("UPDATE comment SET reply_count = reply_count + ? WHERE id = ?")
                    .bind(delta)
                    .bind(parent)
                    .execute(&mut *$tx)
                    .await?;
            }
            sqlx::query(
                "UPDATE post SET comment_count = comment_count + ?, top_comment_count = top_comment_count + ? WHERE id = ?",
            )
            .bind(delta)
            .bind(if parent.is_none() { delta } else { 0 })
            .bind(post)
            .execute(&mut *$tx)
            .await?;
            sqlx::query("UPDATE `user` SET comment_count = comment_count + ? WHERE id = ?")
                .bind(delta)
                .bind(author)
                .execute(&mut *$tx)
                .await?;
            Ok::<(), sqlx::Error>(())
        }
    };
}
pub(crate) use shift_comment_counters;

pub(crate) fn target(
    id: CommentId,
    post_id: i64,
    parent_id: Option<i64>,
    depth: i32,
    is_active: bool,
) -> ReplyTarget {
    ReplyTarget {
        id,
        post_id: PostId(post_id),
        parent_id: parent_id.map(CommentId),
        depth,
        is_active,
    }
}

/// How much a new comment at `placement` adds to its post's top-level counter.
pub(super) fn top_level_share(placement: &Placement) -> i64 {
    i64::from(placement.parent.is_none())
}

/// The same page (oldest first) of the live replies of each comment in `parents`: one windowed query over
/// `ix_comment_parent_active`, whatever the number of parents.
pub(super) async fn pages_for_parents(
    db: &Db,
    parents: &[CommentId],
    page: &PageRequest<i64>,
) -> AppResult<Vec<(CommentId, Page<CommentId>)>> {
    if parents.is_empty() {
        return Ok(Vec::new());
    }
    let _trip = count_db();
    let rows: Vec<(i64, i64)> = on_db!(db, pool => {
        let mut query = QueryBuilder::new(format!(
            "SELECT parent_id, id FROM (SELECT c.parent_id, c.id, ROW_NUMBER() OVER (PARTITION BY c.parent_id ORDER BY c.id {}) AS rn \
             FROM comment c WHERE c.is_active = TRUE AND c.parent_id IN (",
            if page.backward { "DESC" } else { "ASC" }
        ));
        push_ids!(query, parents.iter().map(|id| id.0));
        if let Some(after) = page.after {
            query.push(" AND c.id > ").push_bind(after);
        }
        if let Some(before) = page.before {
            query.push(" AND c.id < ").push_bind(before);
        }
        query.push(") ranked WHERE rn <= ").push_bind(page.fetch() as i64);
        query.push(" ORDER BY parent_id, rn");
        query.build_query_as().fetch_all(pool).await
    })
    .map_err(db_error)?;
    let mut grouped: BTreeMap<i64, Vec<CommentId>> =
        parents.iter().map(|p| (p.0, Vec::new())).collect();
    for (parent, reply) in rows {
        grouped.entry(parent).or_default().push(CommentId(reply));
    }
    Ok(grouped
        .into_iter()
        .map(|(parent, ids)| (CommentId(parent), Page::from_rows(ids, page)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_top_level_comments_count_as_top_level() {
        assert_eq!(top_level_share(&Placement::TOP_LEVEL), 1);
        let reply = Placement {
            parent: Some(CommentId(3)),
            depth: crate::domain::threads::MAX_DEPTH,
        };
        assert_eq!(top_level_share(&reply), 0);
    }
}
