//! The `post_search` rows of posts written before the search existed.

use sqlx::QueryBuilder;

use crate::adapters::sql::{Db, Text, on_db};
use crate::domain::search::SearchText;

/// Posts per statement of [`backfill`].
const BACKFILL_BATCH: i64 = 500;

/// Writes the `post_search` row of every post that has none (posts written before the search existed), in
/// batches; answers how many. Idempotent; migrations run it.
pub async fn backfill(db: &Db) -> Result<u64, sqlx::Error> {
    let mut after = 0_i64;
    let mut written = 0_u64;
    loop {
        let rows: Vec<(i64, Text, Text)> = on_db!(db, pool => sqlx::query_as(
            "SELECT p.id, pc.title, pc.content FROM post p \
             JOIN post_content pc ON pc.post_id = p.id AND pc.version = p.current_version \
             WHERE p.id > ? AND NOT EXISTS (SELECT 1 FROM post_search s WHERE s.post_id = p.id) \
             ORDER BY p.id LIMIT ?",
        )
        .bind(after)
        .bind(BACKFILL_BATCH)
        .fetch_all(pool)
        .await)?;
        let Some(last) = rows.last() else {
            return Ok(written);
        };
        after = last.0;
        written += rows.len() as u64;
        let entries: Vec<(i64, SearchText)> = rows
            .into_iter()
            .map(|(id, title, content)| (id, SearchText::of(&title.0, &content.0)))
            .collect();
        on_db!(db, pool => {
            let mut query = QueryBuilder::new("INSERT INTO post_search (post_id, title, body, grams) ");
            query.push_values(&entries, |mut row, (id, text)| {
                row.push_bind(*id)
                    .push_bind(text.title.clone())
                    .push_bind(text.body.clone())
                    .push_bind(text.grams.clone());
            });
            query.build().execute(pool).await.map(|_| ())
        })?;
    }
}
