use std::time::Duration;

use super::{
    CATEGORY_POSTS, COMMENT_REPLIES, COMMENT_VOTES, POST_COMMENTS, POST_TOP_COMMENTS, POST_VOTES,
    Tally, USER_COMMENTS, USER_POSTS, Written, moved_by, of_comment, of_post, settle,
};
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

async fn run(db: &Db, sql: &str) {
    on_db!(db, pool => sqlx::query(sql).execute(pool).await.map(|_| ())).unwrap();
}

/// The counter as stored, and its rows counted.
async fn stored_and_counted(db: &Db, tally: &Tally, id: i64) -> (i64, i64) {
    let stored = format!(
        "SELECT {} FROM {} WHERE id = {id}",
        tally.column, tally.table
    );
    let counted = tally.rows.replace("{id}", &id.to_string());
    (scalar(db, &stored).await, scalar(db, &counted).await)
}

/// Seeds private rows (a run's own users, posts, comments, votes and a category with a child, which
/// seeding never fills), sets every kind of counter apart from its rows, above and below, and leaves
/// a second post's exact. `settle` sets the ones apart (and only those) to their rows, a second
/// `settle` finds nothing to set, and one that cannot read answers an error.
async fn settles(db: Db) {
    let options = SeedOptions {
        users: 4,
        posts: 2,
        comments_per_post: 3,
        votes_per_post: 3,
    };
    let report = seed(&db, &options, "x", chrono::Utc::now()).await.unwrap();
    let exact = scalar(&db, "SELECT MAX(id) FROM post").await;
    let post = scalar(&db, &format!("SELECT MAX(id) FROM post WHERE id < {exact}")).await;
    let comment = scalar(
        &db,
        &format!("SELECT MIN(id) FROM comment WHERE post_id = {post}"),
    )
    .await;
    let author = scalar(&db, &format!("SELECT user_id FROM post WHERE id = {post}")).await;
    let name = format!("settle-{}", report.tag);
    run(
        &db,
        &format!("INSERT INTO category (tier, name, parent_id) VALUES (1, '{name}', NULL)"),
    )
    .await;
    let category = scalar(
        &db,
        &format!("SELECT id FROM category WHERE name = '{name}'"),
    )
    .await;
    run(
        &db,
        &format!("INSERT INTO category (tier, name, parent_id) VALUES (2, '{name}', {category})"),
    )
    .await;

    let apart: Vec<(&'static Tally, i64, &str)> = vec![
        (&POST_VOTES, post, "vote_count - 1"),
        (&COMMENT_VOTES, comment, "vote_count + 1"),
        (&POST_COMMENTS, post, "comment_count - 1"),
        (&POST_TOP_COMMENTS, post, "top_comment_count + 2"),
        (&COMMENT_REPLIES, comment, "5"),
        (&USER_COMMENTS, author, "comment_count - 1"),
        (&USER_POSTS, author, "post_count + 1"),
        (&CATEGORY_POSTS, category, "3"),
    ];
    for (tally, id, set) in &apart {
        run(
            &db,
            &format!(
                "UPDATE {} SET {} = {set} WHERE id = {id}",
                tally.table, tally.column
            ),
        )
        .await;
        let (stored, counted) = stored_and_counted(&db, tally, *id).await;
        assert_ne!(stored, counted, "{} of {id} set apart", tally.name);
    }
    let mut tallies: Vec<(&'static Tally, i64)> =
        apart.iter().map(|(t, id, _)| (*t, *id)).collect();
    tallies.extend([
        (&POST_VOTES, exact),
        (&POST_COMMENTS, exact),
        (&POST_TOP_COMMENTS, exact),
    ]);

    assert_eq!(
        settle(&db, &tallies).await.unwrap(),
        8,
        "the eight apart are set, the exact ones not"
    );
    for (tally, id) in &tallies {
        let (stored, counted) = stored_and_counted(&db, tally, *id).await;
        assert_eq!(stored, counted, "{} of {id}", tally.name);
    }
    assert_eq!(stored_and_counted(&db, &POST_VOTES, exact).await.0, 3);
    assert_eq!(
        settle(&db, &tallies).await.unwrap(),
        0,
        "nothing left to set"
    );
    // A counter whose row does not exist is left alone.
    assert_eq!(settle(&db, &[(&POST_COMMENTS, i64::MAX)]).await.unwrap(), 0);

    // The counters a write moved, read from its row: a reply moves its parent's too.
    run(&db, &format!(
        "INSERT INTO comment (user_id, post_id, created_datetime, is_active, current_version, vote_count, \
         parent_id, depth, reply_count) SELECT user_id, post_id, created_datetime, TRUE, 0, 0, id, 1, 0 \
         FROM comment WHERE id = {comment}"
    ))
    .await;
    let reply = scalar(
        &db,
        &format!("SELECT MAX(id) FROM comment WHERE parent_id = {comment}"),
    )
    .await;
    let named = |tallies: Vec<(&'static Tally, i64)>| -> Vec<(&str, i64)> {
        tallies.into_iter().map(|(t, id)| (t.name, id)).collect()
    };
    let commenter = scalar(
        &db,
        &format!("SELECT user_id FROM comment WHERE id = {comment}"),
    )
    .await;
    let top = vec![
        ("post.comment_count", post),
        ("post.top_comment_count", post),
        ("user.comment_count", commenter),
    ];
    assert_eq!(
        named(moved_by(&db, &Written::Comment(comment)).await.unwrap()),
        top
    );
    let mut replied = top.clone();
    replied.push(("comment.reply_count", comment));
    assert_eq!(
        named(moved_by(&db, &Written::Comment(reply)).await.unwrap()),
        replied
    );
    let category_of = scalar(
        &db,
        &format!("SELECT category_id FROM post WHERE id = {post}"),
    )
    .await;
    assert_eq!(
        named(moved_by(&db, &Written::Post(post)).await.unwrap()),
        vec![
            ("category.post_count", category_of),
            ("user.post_count", author)
        ]
    );
    // A writer that knows its counters names the same ones as its row does.
    let known = of_comment(post, commenter, Some(comment));
    assert_eq!(named(moved_by(&db, &known).await.unwrap()), replied);
    let known = of_post(category_of, author);
    assert_eq!(
        named(moved_by(&db, &known).await.unwrap()),
        named(moved_by(&db, &Written::Post(post)).await.unwrap())
    );
    assert!(
        moved_by(&db, &Written::Comment(i64::MAX))
            .await
            .unwrap()
            .is_empty()
    );
    // The reply, written without its counters, left three apart (not the post's top-level count).
    assert_eq!(
        settle(&db, &moved_by(&db, &Written::Comment(reply)).await.unwrap())
            .await
            .unwrap(),
        3
    );

    db.close().await;
    assert!(
        settle(&db, &tallies).await.is_err(),
        "a settle that cannot read says so"
    );
}

#[tokio::test]
async fn settle_sets_counters_apart_from_their_rows_and_leaves_exact_ones() {
    settles(connect("sqlite::memory:").await).await;
}

#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL"]
async fn settle_sets_counters_apart_from_their_rows_and_leaves_exact_ones_on_mariadb() {
    let url = std::env::var("TEST_DATABASE_URL")
        .expect("this test needs TEST_DATABASE_URL (`cargo test -- --include-ignored` runs it)");
    settles(connect(&url).await).await;
}
