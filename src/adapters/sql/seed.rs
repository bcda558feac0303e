//! `board seed`: fills a database with demo users, posts, comments and votes, quickly.
//!
//! Rows go in as multi-row INSERTs of at most [`ROWS_PER_STATEMENT`] rows, every value bound, one transaction
//! per [`POSTS_PER_TRANSACTION`] posts (with their contents, comments and votes), so the board is consistent
//! after every committed transaction.
//!
//! Ids are assigned here rather than by the database: each table's `MAX(id)` is read once at the start and
//! the new rows take the ids after it. Seeding therefore expects an otherwise idle database — a concurrent
//! writer could take one of those ids first, and the seed would then fail on a duplicate key (nothing is
//! corrupted: the failing transaction rolls back).
//!
//! The rows obey what the application relies on: one `post_content` at version 0 per post and one
//! `comment_content` at version 0 per comment (`current_version` 0, top-level: `parent_id` NULL, depth 0),
//! `post.vote_count` / `comment_count` / `top_comment_count`
//! equal to the `voter_post` / active `comment` rows inserted for the post, posts only in categories
//! without children, timestamps in UTC truncated to microseconds, a `post_search` row per post, and the
//! `post_count` / `comment_count` counters of categories and users raised in the same transaction.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sqlx::QueryBuilder;

use std::collections::BTreeMap;

use super::{Db, on_db, push_ids};
use crate::domain::names;
use crate::domain::search::SearchText;

/// At most this many rows per INSERT statement (well under both dialects' limits on bound parameters).
const ROWS_PER_STATEMENT: usize = 1000;
/// Posts (with their contents, comments and votes) per transaction.
const POSTS_PER_TRANSACTION: usize = 1000;
/// How far apart consecutive demo posts are in time; a post's comments fall within this gap.
const SECONDS_PER_POST: i64 = 10;

/// How much to seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOptions {
    pub users: usize,
    pub posts: usize,
    pub comments_per_post: usize,
    /// Distinct voters per post; capped at the number of users.
    pub votes_per_post: usize,
}

/// What was seeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    /// The run's random tag: users are named `seed-<tag>-1`, `seed-<tag>-2`, …
    pub tag: String,
    /// The first new user's name (a demo login), if any user was created.
    pub first_user: Option<String>,
    pub users: usize,
    pub posts: usize,
    pub comments: usize,
    pub votes: usize,
}

/// The ids after which the new rows go, one per table.
struct Start {
    user: i64,
    post: i64,
    post_content: i64,
    comment: i64,
    comment_content: i64,
}

/// Everything a batch of posts needs, computed before any statement runs.
struct Plan<'a> {
    options: &'a SeedOptions,
    start: Start,
    categories: Vec<i64>,
    votes_per_post: usize,
    now: DateTime<Utc>,
}

impl Plan<'_> {
    fn user_id(&self, index: usize) -> i64 {
        self.start.user + 1 + index as i64
    }

    /// The author of post `index` (0-based); authors go round-robin over the new users.
    fn post_author(&self, index: usize) -> i64 {
        self.user_id(index % self.options.users)
    }

    fn post_category(&self, index: usize) -> i64 {
        self.categories[index % self.categories.len()]
    }

    fn post_id(&self, index: usize) -> i64 {
        self.start.post + 1 + index as i64
    }

    /// The newest post is `now`; each earlier one is [`SECONDS_PER_POST`] older.
    fn post_time(&self, index: usize) -> DateTime<Utc> {
        let age = (self.options.posts - index) as i64 * SECONDS_PER_POST;
        self.now - Duration::seconds(age)
    }

    fn comment_index(&self, post: usize, nth: usize) -> usize {
        post * self.options.comments_per_post + nth
    }

    /// Comment `nth` of post `post`: after the post, before the next one.
    fn comment_time(&self, post: usize, nth: usize) -> DateTime<Utc> {
        let gap = SECONDS_PER_POST * 1_000_000 * (nth as i64 + 1)
            / (self.options.comments_per_post as i64 + 1);
        self.post_time(post) + Duration::microseconds(gap)
    }

    /// The author of comment `nth` of post `post`: the users after the post's author, round-robin.
    fn comment_author(&self, post: usize, nth: usize) -> i64 {
        self.user_id((post + 1 + nth) % self.options.users)
    }

    /// The voters of post `post`: `votes_per_post` distinct users, starting after the post's author.
    fn voters(&self, post: usize) -> impl Iterator<Item = i64> + '_ {
        (0..self.votes_per_post).map(move |k| self.user_id((post + 1 + k) % self.options.users))
    }
}

fn user_name(tag: &str, n: usize) -> String {
    format!("seed-{tag}-{n}")
}

fn post_title(n: usize) -> String {
    format!("Demo post #{n}")
}

fn post_body(n: usize, tag: &str) -> String {
    format!(
        "This is demo post number {n}, written by `board seed` (run {tag}). \
         안녕하세요 — 게시판 데모 글입니다 🦀 \
         Posts keep every edited version; this one is still at version 0. \
         댓글과 추천도 함께 만들어졌습니다."
    )
}

fn comment_body(post: usize, nth: usize) -> String {
    format!("Comment {nth} on demo post #{post}. 좋은 글 감사합니다! 👍")
}

/// Inserts demo data: `options.users` users sharing `password_hash`, then `options.posts` posts spread over
/// the categories without children, each with `comments_per_post` comments and `votes_per_post` votes.
///
/// Expects an otherwise idle database (see the module documentation). Fails without writing anything if
/// posts are asked for but there are no users to write them or no category to put them in.
pub async fn seed(
    db: &Db,
    options: &SeedOptions,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<SeedReport, sqlx::Error> {
    seed_with_progress(db, options, password_hash, now, &|_| {}).await
}

/// [`seed`], calling `progress` with the number of posts written after every committed transaction.
pub async fn seed_with_progress(
    db: &Db,
    options: &SeedOptions,
    password_hash: &str,
    now: DateTime<Utc>,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<SeedReport, sqlx::Error> {
    if options.posts > 0 && options.users == 0 {
        return Err(sqlx::Error::Protocol(
            "seeding posts needs at least one user".into(),
        ));
    }
    let now = now.trunc_subsecs(6);
    let tag = format!("{:06x}", rand::random::<u32>() & 0x00ff_ffff);

    on_db!(db, pool => async {
        let max_id = |table: &'static str| {
            let sql = format!("SELECT COALESCE(MAX(id), 0) FROM {table}");
            async move { sqlx::query_scalar::<_, i64>(&sql).fetch_one(pool).await }
        };
        let start = Start {
            user: max_id("`user`").await?,
            post: max_id("post").await?,
            post_content: max_id("post_content").await?,
            comment: max_id("comment").await?,
            comment_content: max_id("comment_content").await?,
        };
        let role_id: i64 = sqlx::query_scalar("SELECT id FROM role WHERE name = ?")
            .bind("user")
            .fetch_one(pool)
            .await?;
        let categories: Vec<i64> = sqlx::query_scalar(
            "SELECT c.id FROM category c \
             WHERE NOT EXISTS (SELECT 1 FROM category child WHERE child.parent_id = c.id) \
             ORDER BY c.id",
        )
        .fetch_all(pool)
        .await?;
        if options.posts > 0 && categories.is_empty() {
            return Err(sqlx::Error::Protocol(
                "seeding posts needs a category without children".into(),
            ));
        }
        let plan = Plan {
            options,
            start,
            categories,
            votes_per_post: options.votes_per_post.min(options.users),
            now,
        };

        // Users.
        for batch in (0..options.users).collect::<Vec<_>>().chunks(ROWS_PER_STATEMENT) {
            let mut tx = pool.begin().await?;
            let mut query = QueryBuilder::new(
                "INSERT INTO `user` (id, name, name_key, name_skeleton, password, email, created_datetime, role_id) ",
            );
            query.push_values(batch, |mut row, &index| {
                let name = user_name(&tag, index + 1);
                row.push_bind(plan.user_id(index))
                    .push_bind(name.clone())
                    .push_bind(names::name_key(&name))
                    .push_bind(names::name_skeleton(&name))
                    .push_bind(password_hash.to_owned())
                    .push_bind(format!("{name}@example.com"))
                    .push_bind(now)
                    .push_bind(role_id);
            });
            query.build().execute(&mut *tx).await?;
            tx.commit().await?;
        }

        // Posts, with their contents, comments and votes: one transaction per batch of posts.
        let mut votes = 0;
        let mut written = 0;
        for posts in (0..options.posts).collect::<Vec<_>>().chunks(POSTS_PER_TRANSACTION) {
            let mut tx = pool.begin().await?;

            let mut query = QueryBuilder::new(
                "INSERT INTO post (id, user_id, category_id, created_datetime, is_active, \
                 current_version, vote_count, comment_count, top_comment_count) ",
            );
            query.push_values(posts, |mut row, &index| {
                row.push_bind(plan.post_id(index))
                    .push_bind(plan.post_author(index))
                    .push_bind(plan.post_category(index))
                    .push_bind(plan.post_time(index))
                    .push_bind(true)
                    .push_bind(0_i32)
                    .push_bind(plan.votes_per_post as i64)
                    .push_bind(options.comments_per_post as i64)
                    // Every seeded comment is top-level.
                    .push_bind(options.comments_per_post as i64);
            });
            query.build().execute(&mut *tx).await?;

            let mut query = QueryBuilder::new(
                "INSERT INTO post_content (id, post_id, version, created_datetime, title, content) ",
            );
            query.push_values(posts, |mut row, &index| {
                row.push_bind(plan.start.post_content + 1 + index as i64)
                    .push_bind(plan.post_id(index))
                    .push_bind(0_i32)
                    .push_bind(plan.post_time(index))
                    .push_bind(post_title(index + 1))
                    .push_bind(post_body(index + 1, &tag));
            });
            query.build().execute(&mut *tx).await?;

            let mut query = QueryBuilder::new("INSERT INTO post_search (post_id, title, body, grams) ");
            query.push_values(posts, |mut row, &index| {
                let text = SearchText::of(&post_title(index + 1), &post_body(index + 1, &tag));
                row.push_bind(plan.post_id(index))
                    .push_bind(text.title)
                    .push_bind(text.body)
                    .push_bind(text.grams);
            });
            query.build().execute(&mut *tx).await?;

            let comments: Vec<(usize, usize)> = posts
                .iter()
                .flat_map(|&post| (0..options.comments_per_post).map(move |nth| (post, nth)))
                .collect();
            for batch in comments.chunks(ROWS_PER_STATEMENT) {
                let mut query = QueryBuilder::new(
                    "INSERT INTO comment (id, user_id, post_id, created_datetime, is_active, \
                     current_version, vote_count) ",
                );
                query.push_values(batch, |mut row, &(post, nth)| {
                    row.push_bind(plan.start.comment + 1 + plan.comment_index(post, nth) as i64)
                        .push_bind(plan.comment_author(post, nth))
                        .push_bind(plan.post_id(post))
                        .push_bind(plan.comment_time(post, nth))
                        .push_bind(true)
                        .push_bind(0_i32)
                        .push_bind(0_i32);
                });
                query.build().execute(&mut *tx).await?;

                let mut query = QueryBuilder::new(
                    "INSERT INTO comment_content (id, comment_id, version, created_datetime, content) ",
                );
                query.push_values(batch, |mut row, &(post, nth)| {
                    let index = plan.comment_index(post, nth) as i64;
                    row.push_bind(plan.start.comment_content + 1 + index)
                        .push_bind(plan.start.comment + 1 + index)
                        .push_bind(0_i32)
                        .push_bind(plan.comment_time(post, nth))
                        .push_bind(comment_body(post + 1, nth + 1));
                });
                query.build().execute(&mut *tx).await?;
            }

            let voter_rows: Vec<(i64, i64)> = posts
                .iter()
                .flat_map(|&post| {
                    let post_id = plan.post_id(post);
                    plan.voters(post).map(move |user| (user, post_id))
                })
                .collect();
            for batch in voter_rows.chunks(ROWS_PER_STATEMENT) {
                let mut query = QueryBuilder::new("INSERT INTO voter_post (user_id, post_id) ");
                query.push_values(batch, |mut row, &(user, post)| {
                    row.push_bind(user).push_bind(post);
                });
                query.build().execute(&mut *tx).await?;
            }
            votes += voter_rows.len();

            // The counters, by the deltas of this transaction.
            let mut per_category: BTreeMap<i64, i64> = BTreeMap::new();
            let mut per_author: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
            for &post in posts {
                *per_category.entry(plan.post_category(post)).or_default() += 1;
                per_author.entry(plan.post_author(post)).or_default().0 += 1;
                for nth in 0..options.comments_per_post {
                    per_author.entry(plan.comment_author(post, nth)).or_default().1 += 1;
                }
            }
            let mut query = QueryBuilder::new("UPDATE category SET post_count = post_count + CASE id");
            for (id, n) in &per_category {
                query.push(" WHEN ").push_bind(*id).push(" THEN ").push_bind(*n);
            }
            query.push(" ELSE 0 END WHERE id IN (");
            push_ids!(query, per_category.keys().copied());
            query.build().execute(&mut *tx).await?;
            let authors: Vec<(i64, (i64, i64))> = per_author.into_iter().collect();
            for batch in authors.chunks(ROWS_PER_STATEMENT / 2) {
                let mut query = QueryBuilder::new("UPDATE `user` SET post_count = post_count + CASE id");
                for (id, (posts, _)) in batch {
                    query.push(" WHEN ").push_bind(*id).push(" THEN ").push_bind(*posts);
                }
                query.push(" ELSE 0 END, comment_count = comment_count + CASE id");
                for (id, (_, comments)) in batch {
                    query.push(" WHEN ").push_bind(*id).push(" THEN ").push_bind(*comments);
                }
                query.push(" ELSE 0 END WHERE id IN (");
                push_ids!(query, batch.iter().map(|(id, _)| *id));
                query.build().execute(&mut *tx).await?;
            }

            tx.commit().await?;
            written += posts.len();
            progress(written);
        }

        Ok(SeedReport {
            first_user: (options.users > 0).then(|| user_name(&tag, 1)),
            tag: tag.clone(),
            users: options.users,
            posts: options.posts,
            comments: options.posts * options.comments_per_post,
            votes,
        })
    })
}
