//! `content_html` of versions written without it: before migration 0010, or by a process that predates it
//! during a rolling deploy. SQL cannot render Markdown, so this runs after migrating (docs/markdown.md).

use super::{Db, Text, on_db};
use crate::domain::markdown;

/// Versions per transaction of [`backfill`]: one `UPDATE` each, since a batch of large HTML values in one
/// statement could pass MariaDB's packet limit.
const BATCH: i64 = 100;

/// Renders and stores the HTML of every post and comment version that has none; answers how many.
/// Idempotent: only NULLs are filled, so a version written meanwhile keeps what its writer rendered.
pub async fn backfill(db: &Db) -> Result<u64, sqlx::Error> {
    Ok(fill_table(db, "post_content").await? + fill_table(db, "comment_content").await?)
}

async fn fill_table(db: &Db, table: &'static str) -> Result<u64, sqlx::Error> {
    let select = format!(
        "SELECT id, content FROM {table} WHERE id > ? AND content_html IS NULL ORDER BY id LIMIT ?"
    );
    let update =
        format!("UPDATE {table} SET content_html = ? WHERE id = ? AND content_html IS NULL");
    let mut after = 0_i64;
    let mut filled = 0_u64;
    loop {
        let rows: Vec<(i64, Text)> = on_db!(db, pool => sqlx::query_as(&select)
            .bind(after)
            .bind(BATCH)
            .fetch_all(pool)
            .await)?;
        let Some(last) = rows.last() else {
            return Ok(filled);
        };
        after = last.0;
        let rendered: Vec<(i64, String)> = rows
            .into_iter()
            .map(|(id, content)| (id, markdown::render(&content.0)))
            .collect();
        filled += on_db!(db, pool => async {
            let mut tx = pool.begin().await?;
            let mut done = 0;
            for (id, html) in &rendered {
                done += sqlx::query(&update)
                    .bind(html)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(done)
        })?;
    }
}
