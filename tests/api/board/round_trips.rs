//! Round trips of reads: a page costs the same for 5 and 50 posts, cold or warm; warm reads skip the
//! database.

use super::*;

backend_tests!(
    page_queries_cost_the_same_round_trips_for_5_and_50_posts,
    warm_post_reads_skip_the_database,
);

/// The page query with caching switched off: every read is a database read (the cold case).
mod cold_page_query {
    use super::*;
    use crate::helpers::Backend;

    async fn run(backend: Backend) {
        let app = TestApp::spawn_with(backend, |c| c.cache_ttl_secs = 0).await;
        let users = seed_posts(&app, 55).await;
        for token in [None, Some(users[0].access.as_str())] {
            let (_, db5, cache5) = app.gql_counted(PAGE, json!({ "n": 5 }), token).await;
            let (body, db50, cache50) = app.gql_counted(PAGE, json!({ "n": 50 }), token).await;
            assert!(body.get("errors").is_none(), "{body:#}");
            assert_eq!(
                (db5, cache5),
                (db50, cache50),
                "cold round trips do not grow with the page"
            );
            assert!(db50 <= 10, "{db50} round trips");
            eprintln!(
                "cold page query ({backend:?}, {}): first 5 → {db5} db, first 50 → {db50} db",
                if token.is_some() {
                    "signed in"
                } else {
                    "anonymous"
                }
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
    async fn mariadb_redis() {
        run(Backend::MariaDb).await;
    }
}

/// Oldest first: the first page of the newest list is served whole from one cache entry (see search.rs),
/// while this page exercises the per-request batching of every read by id.
const PAGE: &str = "query($n: Int!) { posts(first: $n, orderBy: OLDEST) { totalCount edges { cursor node { id title voteCount commentCount viewerHasVoted \
     author { name } category { name } comments(first: 3) { nodes { content author { name } } } } } } }";

async fn seed_posts(app: &TestApp, n: usize) -> Vec<Session> {
    // Four users: the first five posts already have every author, so comment authors add no query for either page.
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(
            app.sign_up(
                &format!("user{i}"),
                &format!("user{i}@example.com"),
                "password-1",
            )
            .await,
        );
    }
    let categories = [
        category(app, "tech").await,
        category(app, "life").await,
        category(app, "news").await,
    ];
    for i in 0..n {
        let author = &users[i % users.len()];
        let id = post(
            app,
            author,
            &categories[i % 3],
            &format!("post {i}"),
            "content",
        )
        .await;
        for c in 0..(i % 4) {
            comment(
                app,
                &users[(i + c + 1) % users.len()],
                &id,
                &format!("comment {c}"),
            )
            .await;
        }
        if i % 2 == 0 {
            app.ok(
                VOTE,
                json!({ "id": id }),
                Some(&users[(i + 2) % users.len()].access),
            )
            .await;
        }
    }
    users
}

async fn page_queries_cost_the_same_round_trips_for_5_and_50_posts(app: TestApp) {
    let users = seed_posts(&app, 55).await;
    // The list's total is cached with the first page of the newest list: both pages below find it there.
    app.ok("{ posts(first: 1) { totalCount } }", json!({}), None)
        .await;
    for token in [None, Some(users[0].access.as_str())] {
        let (five, db5, _) = app.gql_counted(PAGE, json!({ "n": 5 }), token).await;
        let (fifty, db50, _) = app.gql_counted(PAGE, json!({ "n": 50 }), token).await;
        assert!(
            five.get("errors").is_none() && fifty.get("errors").is_none(),
            "{fifty:#}"
        );
        assert_eq!(
            fifty["data"]["posts"]["edges"].as_array().unwrap().len(),
            50
        );
        assert_eq!(
            db5, db50,
            "round trips do not grow with the page ({token:?})"
        );
        assert!(db50 <= 10, "{db50} round trips");
        let with_comments = fifty["data"]["posts"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                !e["node"]["comments"]["nodes"]
                    .as_array()
                    .unwrap()
                    .is_empty()
            });
        assert!(with_comments.count() > 10);
        let (_, warm5, cache5) = app.gql_counted(PAGE, json!({ "n": 5 }), token).await;
        let (_, warm50, cache50) = app.gql_counted(PAGE, json!({ "n": 50 }), token).await;
        assert_eq!(warm5, warm50, "warm round trips do not grow with the page");
        eprintln!(
            "page query ({}): first run 5 → {db5} db, 50 → {db50} db; warm 5 → {warm5} db + {cache5} cache, 50 → {warm50} db + {cache50} cache",
            if token.is_some() {
                "signed in"
            } else {
                "anonymous"
            }
        );
    }
}

async fn warm_post_reads_skip_the_database(app: TestApp) {
    let author = app
        .sign_up("cached", "cached@example.com", "password-1")
        .await;
    let tech = category(&app, "tech").await;
    let id = post(&app, &author, &tech, "warm me", "up").await;
    let q = "query($id: ID!) { post(id: $id) { title content author { name } category { name } voteCount } }";
    let (cold, cold_db, _) = app.gql_counted(q, json!({ "id": id }), None).await;
    assert_eq!(cold["data"]["post"]["author"]["name"], "cached");
    let (warm, db, cache) = app.gql_counted(q, json!({ "id": id }), None).await;
    assert_eq!(warm["data"], cold["data"]);
    assert_eq!(db, 0, "warm: no database round trip (cold took {cold_db})");
    assert!(cache <= 3, "{cache} cache round trips");
    // A write invalidates: the next read sees the new version.
    app.ok(
        UPDATE_POST,
        json!({ "i": { "postId": id, "title": "edited", "content": "up" } }),
        Some(&author.access),
    )
    .await;
    let (fresh, _, _) = app.gql_counted(q, json!({ "id": id }), None).await;
    assert_eq!(fresh["data"]["post"]["title"], "edited");
    eprintln!("post(id:) cold: {cold_db} db round trips; warm: 0");
}
