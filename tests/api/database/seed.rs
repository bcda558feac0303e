//! `board seed`: the demo data it writes obeys the rules the application relies on, on a fresh database, and
//! seeding twice never collides.

use std::collections::BTreeMap;

use board::adapters::sql::Db;
use board::adapters::sql::seed::{SeedOptions, SeedReport, seed};
use chrono::{DateTime, Utc};

/// Runs the same query on whichever pool `db` holds.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::MySql($pool) => $body,
            Db::Sqlite($pool) => $body,
        }
    };
}

async fn count(db: &Db, sql: &str) -> i64 {
    on_pool!(db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn pairs(db: &Db, sql: &str) -> BTreeMap<i64, i64> {
    let rows: Vec<(i64, i64)> = on_pool!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter().collect()
}

const OPTIONS: SeedOptions = SeedOptions {
    users: 7,
    posts: 30,
    comments_per_post: 3,
    votes_per_post: 4,
};

/// Checks every rule after `runs` seeds with [`OPTIONS`] on an otherwise empty board.
async fn check(db: &Db, runs: i64, now: DateTime<Utc>) {
    let o = &OPTIONS;
    let (users, posts) = (o.users as i64, o.posts as i64);
    let comments = posts * o.comments_per_post as i64;
    let votes = posts * o.votes_per_post as i64;
    assert_eq!(count(db, "SELECT COUNT(*) FROM `user`").await, runs * users);
    assert_eq!(count(db, "SELECT COUNT(*) FROM post").await, runs * posts);
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM post_content").await,
        runs * posts
    );
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM comment").await,
        runs * comments
    );
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM comment_content").await,
        runs * comments
    );
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM voter_post").await,
        runs * votes
    );

    // Users: the shared role, lower-cased name keys, addresses derived from the names.
    let bad_users = count(
        db,
        "SELECT COUNT(*) FROM `user` u WHERE u.role_id IS NULL \
         OR u.role_id <> (SELECT id FROM role WHERE name = 'user') \
         OR u.name_key <> LOWER(u.name) OR u.email <> CONCAT(u.name, '@example.com') \
         OR u.name NOT LIKE 'seed-%' OR u.password IS NULL",
    )
    .await;
    assert_eq!(
        bad_users, 0,
        "users with a wrong role, key, email or password"
    );

    // Posts: active, version 0, only in categories without children, not in the future.
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM post p WHERE NOT p.is_active OR p.current_version <> 0 \
             OR EXISTS (SELECT 1 FROM category c WHERE c.parent_id = p.category_id)",
        )
        .await,
        0,
        "inactive posts, posts past version 0, or posts in a category with children"
    );

    // Every post: exactly one post_content, at version 0, with the post's timestamp.
    let post_ids = pairs(db, "SELECT id, id FROM post").await;
    let contents = pairs(
        db,
        "SELECT post_id, COUNT(*) FROM post_content WHERE version = 0 GROUP BY post_id",
    )
    .await;
    assert_eq!(
        contents,
        post_ids
            .keys()
            .map(|&id| (id, 1))
            .collect::<BTreeMap<_, _>>(),
        "one version-0 post_content per post"
    );
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM post_content pc JOIN post p ON p.id = pc.post_id \
             WHERE pc.created_datetime <> p.created_datetime",
        )
        .await,
        0
    );

    // Every post: its counters equal its voter_post rows and its active comments (one GROUP BY each).
    let vote_counts = pairs(db, "SELECT id, vote_count FROM post").await;
    let comment_counts = pairs(db, "SELECT id, comment_count FROM post").await;
    let voters = pairs(
        db,
        "SELECT post_id, COUNT(*) FROM voter_post GROUP BY post_id",
    )
    .await;
    let active_comments = pairs(
        db,
        "SELECT post_id, COUNT(*) FROM comment WHERE is_active GROUP BY post_id",
    )
    .await;
    let nonzero = |m: &BTreeMap<i64, i64>| -> BTreeMap<i64, i64> {
        m.iter()
            .filter(|(_, n)| **n != 0)
            .map(|(k, v)| (*k, *v))
            .collect()
    };
    assert_eq!(
        nonzero(&vote_counts),
        voters,
        "post.vote_count = voter_post rows"
    );
    assert_eq!(
        nonzero(&comment_counts),
        active_comments,
        "post.comment_count = active comments"
    );
    assert!(vote_counts.values().all(|&n| n == o.votes_per_post as i64));
    assert!(
        comment_counts
            .values()
            .all(|&n| n == o.comments_per_post as i64)
    );

    // Every comment: active, version 0, no votes, exactly one comment_content at version 0.
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM comment c WHERE NOT c.is_active OR c.current_version <> 0 \
             OR c.vote_count <> 0 OR c.created_datetime < (SELECT created_datetime FROM post p WHERE p.id = c.post_id) \
             OR (SELECT COUNT(*) FROM comment_content cc WHERE cc.comment_id = c.id AND cc.version = 0) <> 1 \
             OR (SELECT COUNT(*) FROM comment_content cc WHERE cc.comment_id = c.id) <> 1",
        )
        .await,
        0,
        "comments with a wrong state, counter or content"
    );

    // Timestamps: microseconds at most, never after `now`; newer posts have larger ids.
    let times: Vec<DateTime<Utc>> = on_pool!(db, pool => sqlx::query_scalar(
        "SELECT created_datetime FROM post ORDER BY id"
    )
    .fetch_all(pool)
    .await)
    .unwrap();
    assert!(
        times
            .iter()
            .all(|t| *t <= now && t.timestamp_subsec_nanos() % 1000 == 0)
    );
}

async fn scenario(backend: crate::helpers::Backend) {
    let (config, _cleanup) = crate::helpers::test_config(backend).await;
    let db = Db::connect(&board::config::Config::from(&config).db)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let hash = bcrypt::hash("demo-password", 4).unwrap();

    let now = Utc::now();
    let first: SeedReport = seed(&db, &OPTIONS, &hash, now).await.unwrap();
    assert_eq!(
        (first.users, first.posts, first.comments, first.votes),
        (7, 30, 90, 120)
    );
    assert_eq!(first.tag.len(), 6);
    assert!(first.tag.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        first.first_user.as_deref(),
        Some(format!("seed-{}-1", first.tag).as_str())
    );
    check(&db, 1, now).await;

    // The demo login works: the stored hash is the given one.
    let (name, password): (String, String) = on_pool!(&db, pool => sqlx::query_as(
        "SELECT CAST(name AS CHAR), CAST(password AS CHAR) FROM `user` WHERE name_key = ?"
    )
    .bind(first.first_user.clone().unwrap())
    .fetch_one(pool)
    .await)
    .unwrap();
    assert_eq!(name, first.first_user.clone().unwrap());
    assert!(bcrypt::verify("demo-password", &password).unwrap());

    // UTF-8 survives the round trip.
    let content: String = on_pool!(&db, pool => sqlx::query_scalar(
        "SELECT CAST(content AS CHAR) FROM post_content ORDER BY id LIMIT 1"
    )
    .fetch_one(pool)
    .await)
    .unwrap();
    assert!(
        content.contains("안녕하세요 — 게시판 데모 글입니다 🦀"),
        "{content}"
    );

    // A second run on the same database: new tag, new ids, no collisions.
    let later = Utc::now();
    let second = seed(&db, &OPTIONS, &hash, later).await.unwrap();
    assert_ne!(second.tag, first.tag);
    check(&db, 2, later).await;

    // Votes are capped at the number of users; posts need a user.
    let few = SeedOptions {
        users: 2,
        posts: 3,
        comments_per_post: 0,
        votes_per_post: 5,
    };
    let capped = seed(&db, &few, &hash, Utc::now()).await.unwrap();
    assert_eq!((capped.votes, capped.comments), (6, 0));
    let no_users = SeedOptions { users: 0, ..few };
    assert!(seed(&db, &no_users, &hash, Utc::now()).await.is_err());

    db.close().await;
}

#[tokio::test]
async fn seed_sqlite() {
    scenario(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn seed_mariadb() {
    crate::helpers::require_external();
    scenario(crate::helpers::Backend::MariaDb).await;
}
