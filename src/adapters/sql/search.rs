//! `PostSearch` on the database itself (`post_search` under FULLTEXT / FTS5): exact plans, walk or index,
//! chosen per term by what a bounded window of the list says. The plans and their round trips:
//! docs/search-plan.md.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::QueryBuilder;
use tokio::sync::OwnedSemaphorePermit;

mod backfill;
mod plan;

pub use backfill::backfill;
use plan::{CountPlan, Plan, count_plan, count_plan_after_newest, count_window, page_plan};

use super::post_query::{order_by, push_keyset, push_post_filter};
use super::search_budget::SearchBudget;
use super::{Db, db_error, on_db};
use crate::domain::page::{Page, PageRequest};
use crate::domain::search::{self, GramFrequencies};
use crate::domain::{AppResult, PostFilter, PostId, PostKey, PostOrder};
use crate::ports::PostSearch;
use crate::request::count_db;
use crate::telemetry::metrics;

/// Posts a page walks before it asks the index.
pub const WALK_WINDOW: i64 = 1000;

/// Appends the exact filter: the folded title or content (`s` is `post_search`) holds the term literally.
macro_rules! push_holds {
    ($query:expr, $pattern:expr) => {{
        $query
            .push("(s.title LIKE ")
            .push_bind($pattern.to_owned())
            .push(" ESCAPE '!' OR s.body LIKE ")
            .push_bind($pattern.to_owned())
            .push(" ESCAPE '!')");
    }};
}

/// A statement stopped by `search_statement_ms` answers `SERVICE_UNAVAILABLE` with what to do about it.
fn search_error(err: sqlx::Error, limit_ms: u64) -> crate::domain::AppError {
    // 1969: max_statement_time exceeded; 188: InnoDB's full-text search interrupted by it (the statement was
    // still reading the index).
    if let sqlx::Error::Database(db) = &err
        && let Some(mysql) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        && matches!(mysql.number(), 1969 | 188)
    {
        return super::search_budget::stopped(limit_ms);
    }
    db_error(err)
}

/// Posts whose tokens are sampled to learn which words are rare.
const SAMPLE_POSTS: i64 = 2000;
/// How often the sample is taken again (every minute while the board has fewer posts than a sample).
const SAMPLE_EVERY: Duration = Duration::from_secs(600);
const SAMPLE_EVERY_WHILE_SMALL: Duration = Duration::from_secs(60);

pub struct SqlPostSearch {
    db: Db,
    sample: Arc<Sample>,
    /// A request's search statements stop after this, together (MariaDB: `max_statement_time`): a term
    /// whose candidates are too many to filter in time gets an error rather than holding a connection and
    /// the database's CPU for seconds (a request's own timeout does not stop its statement in the database).
    statement_ms: u64,
    budget: SearchBudget,
}

/// Token frequencies in the newest posts, taken again in the background when old; a search never waits
/// for it (it uses the previous sample, or none).
#[derive(Default)]
struct Sample {
    frequencies: RwLock<Arc<GramFrequencies>>,
    /// When the current sample was taken (`None`: never).
    taken: Mutex<Option<Instant>>,
    taking: AtomicBool,
}

impl SqlPostSearch {
    /// Takes the first sample at once when a runtime is running (so the first rare-term searches after a
    /// start already ask the index for their rarest words only).
    pub fn new(db: Db, statement_ms: u64, concurrency: usize) -> Self {
        let search = Self {
            db,
            sample: Arc::default(),
            statement_ms,
            budget: SearchBudget::new(Duration::from_millis(statement_ms), concurrency),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            search.frequencies();
        }
        search
    }

    /// Admits one search statement (see [`SearchBudget::admit`]) and answers the start of the statement,
    /// bounded (MariaDB) by what is left of the request's budget, with the permit to hold while it runs.
    async fn admit(&self) -> AppResult<(String, OwnedSemaphorePermit)> {
        let (left, permit) = self.budget.admit().await?;
        let head = match self.db {
            Db::MySql(_) => {
                let ms = left.as_millis().max(1);
                format!(
                    "SET STATEMENT max_statement_time = {}.{:03} FOR ",
                    ms / 1000,
                    ms % 1000
                )
            }
            Db::Sqlite(_) => String::new(),
        };
        Ok((head, permit))
    }

    /// The current frequencies; starts taking a new sample (in the background, once) when it is old.
    fn frequencies(&self) -> Arc<GramFrequencies> {
        let current = self
            .sample
            .frequencies
            .read()
            .map(|f| Arc::clone(&f))
            .unwrap_or_default();
        let every = if i64::from(current.posts) < SAMPLE_POSTS {
            SAMPLE_EVERY_WHILE_SMALL
        } else {
            SAMPLE_EVERY
        };
        let stale = self
            .sample
            .taken
            .lock()
            .map(|t| t.is_none_or(|at| at.elapsed() >= every))
            .unwrap_or(false);
        if stale && !self.sample.taking.swap(true, Ordering::AcqRel) {
            let (db, sample) = (self.db.clone(), Arc::clone(&self.sample));
            tokio::spawn(async move {
                match take_sample(&db).await {
                    Ok(fresh) => {
                        if let Ok(mut f) = sample.frequencies.write() {
                            *f = Arc::new(fresh);
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "search: could not sample token frequencies")
                    }
                }
                if let Ok(mut t) = sample.taken.lock() {
                    *t = Some(Instant::now());
                }
                sample.taking.store(false, Ordering::Release);
            });
        }
        current
    }
}

/// The token frequencies of the newest [`SAMPLE_POSTS`] posts (one query, outside any request).
async fn take_sample(db: &Db) -> Result<GramFrequencies, sqlx::Error> {
    const SAMPLE: &str = "SELECT grams FROM post_search ORDER BY post_id DESC LIMIT ?";
    // MariaDB hands a MEDIUMTEXT over as a BLOB; the tokens are ASCII either way.
    let lists: Vec<String> = match db {
        Db::MySql(pool) => sqlx::query_scalar::<_, Vec<u8>>(SAMPLE)
            .bind(SAMPLE_POSTS)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .collect(),
        Db::Sqlite(pool) => {
            sqlx::query_scalar(SAMPLE)
                .bind(SAMPLE_POSTS)
                .fetch_all(pool)
                .await?
        }
    };
    Ok(GramFrequencies::of(lists.iter().map(String::as_str)))
}

/// The text around the bound match expression of an index query, and the expression: posts holding, for
/// every token, one that starts with it (a prefix query), as the dialect's full-text syntax says it. The query continues with the post filter.
fn index_query(db: &Db, tokens: &[String], select: &str) -> (String, &'static str, String) {
    match db {
        Db::MySql(_) => (
            format!(
                "SELECT STRAIGHT_JOIN {select} FROM post_search s JOIN post p ON p.id = s.post_id \
                 WHERE MATCH (s.grams) AGAINST ("
            ),
            " IN BOOLEAN MODE) AND ",
            tokens
                .iter()
                .map(|t| format!("+{t}*"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Db::Sqlite(_) => (
            format!(
                "SELECT {select} FROM post_search_fts f CROSS JOIN post_search s ON s.post_id = f.rowid \
                 CROSS JOIN post p ON p.id = s.post_id WHERE post_search_fts MATCH "
            ),
            " AND ",
            tokens
                .iter()
                .map(|t| format!("\"{t}\"*"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    }
}

/// Rows of a probe in the query's order (the UNION gives none).
fn sort_rows(rows: &mut [(i64, i64)], order: PostOrder, backward: bool) {
    let descending = (order != PostOrder::Oldest) != backward;
    rows.sort_by(|a, b| {
        let key = |r: &(i64, i64)| {
            if order == PostOrder::MostVoted {
                (r.1, r.0)
            } else {
                (0, r.0)
            }
        };
        if descending {
            key(b).cmp(&key(a))
        } else {
            key(a).cmp(&key(b))
        }
    });
}

fn keys(rows: Vec<(i64, i64)>, page: &PageRequest<PostKey>) -> Page<PostKey> {
    let keys = rows
        .into_iter()
        .map(|(id, votes)| PostKey {
            id: PostId(id),
            votes,
        })
        .collect();
    Page::from_rows(keys, page)
}

#[async_trait]
impl PostSearch for SqlPostSearch {
    async fn page(
        &self,
        filter: &PostFilter,
        order: PostOrder,
        page: &PageRequest<PostKey>,
    ) -> AppResult<Page<PostKey>> {
        let term = filter.search.as_deref().unwrap_or_default();
        let pattern = search::like_pattern(term);
        let tokens = search::query_tokens(term);
        let fetch = page.fetch() as i64;
        let order_sql = order_by("p", order, page.backward);

        if tokens.is_empty() {
            // No word of two characters: only the walk can answer.
            metrics::search_plan("walk");
            let (head, _permit) = self.admit().await?;
            let _trip = count_db();
            let rows: Vec<(i64, i64)> = on_db!(&self.db, pool => {
                let mut query = QueryBuilder::new(
                    head.clone() + "SELECT p.id, p.vote_count FROM post p JOIN post_search s ON s.post_id = p.id WHERE ",
                );
                push_post_filter!(query, filter);
                query.push(" AND ");
                push_holds!(query, pattern);
                push_keyset!(query, order, page);
                query.push(&order_sql).push(" LIMIT ").push_bind(fetch);
                query.build_query_as().fetch_all(pool).await
            })
            .map_err(|e| search_error(e, self.statement_ms))?;
            return Ok(keys(rows, page));
        }

        // The window: the next WALK_WINDOW posts of the list; its matches, and (id -1) how many it held.
        let probe: Vec<(i64, i64)> = {
            let (head, _permit) = self.admit().await?;
            let _trip = count_db();
            on_db!(&self.db, pool => {
                let mut query = QueryBuilder::new(head.clone() + "SELECT id, vote_count FROM (SELECT w.id, w.vote_count FROM (");
                for round in 0..2 {
                    if round == 1 {
                        query.push(" UNION ALL SELECT -1, COUNT(*) FROM (");
                    }
                    query.push("SELECT p.id, p.vote_count FROM post p WHERE ");
                    push_post_filter!(query, filter);
                    push_keyset!(query, order, page);
                    query.push(&order_sql).push(" LIMIT ").push_bind(WALK_WINDOW);
                    if round == 0 {
                        query.push(") w JOIN post_search s ON s.post_id = w.id WHERE ");
                        push_holds!(query, pattern);
                        query
                            .push(order_by("w", order, page.backward))
                            .push(" LIMIT ")
                            .push_bind(fetch)
                            .push(") m");
                    } else {
                        query.push(") c");
                    }
                }
                query.build_query_as().fetch_all(pool).await
            })
            .map_err(|e| search_error(e, self.statement_ms))?
        };
        let scanned = probe.iter().find(|r| r.0 == -1).map_or(0, |r| r.1);
        let mut found: Vec<(i64, i64)> = probe.into_iter().filter(|r| r.0 != -1).collect();
        if page_plan(found.len() as i64, fetch, scanned) == Plan::Walk {
            metrics::search_plan("walk");
            sort_rows(&mut found, order, page.backward);
            return Ok(keys(found, page));
        }

        metrics::search_plan("index");
        let tokens = self.frequencies().selective(tokens);
        let (head, tail, expression) = index_query(&self.db, &tokens, "p.id, p.vote_count");
        let (bound, _permit) = self.admit().await?;
        let _trip = count_db();
        let rows: Vec<(i64, i64)> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(bound.clone() + head.as_str());
            query.push_bind(expression.clone()).push(tail);
            push_post_filter!(query, filter);
            query.push(" AND ");
                push_holds!(query, pattern);
            push_keyset!(query, order, page);
            query.push(&order_sql).push(" LIMIT ").push_bind(fetch);
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(|e| search_error(e, self.statement_ms))?;
        Ok(keys(rows, page))
    }

    async fn count(&self, filter: &PostFilter, cap: i64) -> AppResult<i64> {
        let term = filter.search.as_deref().unwrap_or_default();
        let pattern = search::like_pattern(term);
        let tokens = search::query_tokens(term);

        // The newest WALK_WINDOW posts tell a common term from a rare one.
        let (scanned, matched) = self
            .newest_matches(filter, &pattern, WALK_WINDOW, WALK_WINDOW)
            .await?;
        let mut plan = count_plan(scanned, matched, !tokens.is_empty());
        if plan == CountPlan::Answered {
            metrics::search_plan("walk");
            return Ok(matched.min(cap + 1));
        }
        if plan == CountPlan::Newest {
            // Common (or nothing for the index to look up): the newest posts reach the cap soon.
            let window = count_window(cap);
            let (scanned, matched) = self
                .newest_matches(filter, &pattern, window, cap + 1)
                .await?;
            plan = count_plan_after_newest(scanned, matched, cap, !tokens.is_empty());
            if plan == CountPlan::Answered {
                metrics::search_plan("walk");
                return Ok(matched.min(cap + 1));
            }
            if plan == CountPlan::WalkAll {
                // No word of two characters: only a walk of the whole list can count it (up to cap + 1
                // matches, within search_statement_ms).
                metrics::search_plan("walk");
                let (bound, _permit) = self.admit().await?;
                let _trip = count_db();
                return on_db!(&self.db, pool => {
                    let mut query = QueryBuilder::new(
                        bound.clone()
                            + "SELECT COUNT(*) FROM (SELECT 1 AS one FROM post p JOIN post_search s ON s.post_id = p.id WHERE ",
                    );
                    push_post_filter!(query, filter);
                    query.push(" AND ");
                    push_holds!(query, pattern);
                    query.push(" LIMIT ").push_bind(cap + 1).push(") x");
                    query.build_query_scalar().fetch_one(pool).await
                })
                .map_err(|e| search_error(e, self.statement_ms));
            }
            // Common among the newest posts only: the index counts.
        }

        metrics::search_plan("index");
        let tokens = self.frequencies().selective(tokens);
        let (head, tail, expression) = index_query(&self.db, &tokens, "1 AS one");
        let (bound, _permit) = self.admit().await?;
        let _trip = count_db();
        on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(bound.clone() + "SELECT COUNT(*) FROM (");
            query.push(head.as_str()).push_bind(expression.clone()).push(tail);
            push_post_filter!(query, filter);
            query.push(" AND ");
            push_holds!(query, pattern);
            query.push(" LIMIT ").push_bind(cap + 1).push(") x");
            query.build_query_scalar().fetch_one(pool).await
        })
        .map_err(|e| search_error(e, self.statement_ms))
    }
}

impl SqlPostSearch {
    /// Of the newest `window` posts of the list: how many there are, and how many hold the term (counted up
    /// to `limit`). One round trip, bounded both ways.
    async fn newest_matches(
        &self,
        filter: &PostFilter,
        pattern: &str,
        window: i64,
        limit: i64,
    ) -> AppResult<(i64, i64)> {
        let (bound, _permit) = self.admit().await?;
        let _trip = count_db();
        let rows: Vec<(i64, i64)> = on_db!(&self.db, pool => {
            let mut query = QueryBuilder::new(
                bound.clone()
                    + "SELECT 0, COUNT(*) FROM (SELECT 1 AS one FROM (SELECT p.id FROM post p WHERE ",
            );
            push_post_filter!(query, filter);
            query
                .push(" ORDER BY p.id DESC LIMIT ")
                .push_bind(window)
                .push(") w JOIN post_search s ON s.post_id = w.id WHERE ");
            push_holds!(query, pattern);
            query
                .push(" LIMIT ")
                .push_bind(limit)
                .push(") m UNION ALL SELECT -1, COUNT(*) FROM (SELECT p.id FROM post p WHERE ");
            push_post_filter!(query, filter);
            query.push(" LIMIT ").push_bind(window).push(") c");
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(|e| search_error(e, self.statement_ms))?;
        let scanned = rows.iter().find(|r| r.0 == -1).map_or(0, |r| r.1);
        let matched = rows.iter().find(|r| r.0 == 0).map_or(0, |r| r.1);
        Ok((scanned, matched))
    }
}

#[cfg(test)]
mod tests;
