//! `user.name_skeleton` of users written without one: before the column existed, or by a process that
//! predates it during a rolling deploy. SQL cannot compute a skeleton, so this runs after migrating.

use std::collections::HashMap;

use sqlx::QueryBuilder;

use super::{Db, Text, on_db, push_ids};
use crate::domain::names;

/// Users per statement of [`backfill`].
const BATCH: i64 = 500;

/// A user whose name looks like another's (one skeleton): `user_id` keeps a NULL skeleton, `looks_like`
/// holds it — the older user, or one who signed up with a skeleton already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookAlike {
    pub user_id: i64,
    pub looks_like: i64,
}

/// What [`backfill`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SkeletonReport {
    /// Users who got their skeleton.
    pub filled: u64,
    /// Users left without one because their name looks like another user's. Nobody is renamed.
    pub look_alikes: Vec<LookAlike>,
    /// Users left without one because their (pre-rules) name makes a skeleton wider than the column.
    pub too_long: Vec<i64>,
}

/// Fills the skeleton of every named user who has none, oldest first, so of two look-alikes the older
/// keeps the name's skeleton; answers what it did. Idempotent: the look-alikes are found (and reported)
/// again on every run until one of them is renamed.
pub async fn backfill(db: &Db) -> Result<SkeletonReport, sqlx::Error> {
    let mut report = SkeletonReport::default();
    let mut after = 0_i64;
    loop {
        let rows: Vec<(i64, Text)> = on_db!(db, pool => sqlx::query_as(
            "SELECT id, name FROM `user` \
             WHERE id > ? AND name IS NOT NULL AND name_skeleton IS NULL ORDER BY id LIMIT ?",
        )
        .bind(after)
        .bind(BATCH)
        .fetch_all(pool)
        .await)?;
        let Some(last) = rows.last() else {
            return Ok(report);
        };
        after = last.0;
        let wanted: Vec<(i64, String)> = rows
            .into_iter()
            .map(|(id, name)| (id, names::name_skeleton(&name.0)))
            .collect();
        let mut holders = holders(db, wanted.iter().map(|(_, s)| s.as_str())).await?;
        let mut fill = Vec::new();
        for (id, skeleton) in wanted {
            if skeleton.chars().count() > names::SKELETON_MAX_CHARS {
                report.too_long.push(id);
            } else if let Some(&holder) = holders.get(&skeleton) {
                report.look_alikes.push(LookAlike {
                    user_id: id,
                    looks_like: holder,
                });
            } else {
                holders.insert(skeleton.clone(), id);
                fill.push((id, skeleton));
            }
        }
        match fill_batch(db, &fill).await {
            Ok(filled) => report.filled += filled,
            // A user signed up meanwhile with one of these skeletons: one row at a time tells which.
            Err(err) if is_unique_violation(&err) => {
                for (id, skeleton) in &fill {
                    match fill_batch(db, std::slice::from_ref(&(*id, skeleton.clone()))).await {
                        Ok(filled) => report.filled += filled,
                        Err(err) if is_unique_violation(&err) => {
                            let holder = holder_of(db, skeleton).await?;
                            report.look_alikes.push(LookAlike {
                                user_id: *id,
                                looks_like: holder.unwrap_or_default(),
                            });
                        }
                        Err(err) => return Err(err),
                    }
                }
            }
            Err(err) => return Err(err),
        }
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.is_unique_violation())
}

/// The users who hold these skeletons, by skeleton.
async fn holders<'a>(
    db: &Db,
    skeletons: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, i64>, sqlx::Error> {
    let skeletons: Vec<&str> = skeletons.collect();
    if skeletons.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, Text)> = on_db!(db, pool => {
        let mut query = QueryBuilder::new("SELECT id, name_skeleton FROM `user` WHERE name_skeleton IN (");
        push_ids!(query, skeletons.iter().map(|s| (*s).to_owned()));
        query.build_query_as().fetch_all(pool).await
    })?;
    Ok(rows.into_iter().map(|(id, s)| (s.0, id)).collect())
}

async fn holder_of(db: &Db, skeleton: &str) -> Result<Option<i64>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar("SELECT id FROM `user` WHERE name_skeleton = ?")
        .bind(skeleton)
        .fetch_optional(pool)
        .await)
}

/// Sets each (id, skeleton) in one statement; a user renamed (who has a skeleton now) or resigned
/// meanwhile is left alone.
async fn fill_batch(db: &Db, fill: &[(i64, String)]) -> Result<u64, sqlx::Error> {
    if fill.is_empty() {
        return Ok(0);
    }
    on_db!(db, pool => {
        let mut query = QueryBuilder::new("UPDATE `user` SET name_skeleton = CASE id");
        for (id, skeleton) in fill {
            query.push(" WHEN ").push_bind(*id).push(" THEN ").push_bind(skeleton.clone());
        }
        query.push(" END WHERE name_skeleton IS NULL AND name IS NOT NULL AND id IN (");
        push_ids!(query, fill.iter().map(|(id, _)| *id));
        query.build().execute(pool).await.map(|done| done.rows_affected())
    })
}
