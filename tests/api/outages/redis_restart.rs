//! A Redis outage degrades to the database and heals by itself: this test runs its own `redis-server`,
//! kills it under load, and restarts it, while the same `board` keeps answering — and keeps limiting.

use std::time::{Duration, Instant};

use crate::helpers::redis::{OwnRedis, free_port, redis_binary};
use crate::helpers::{Backend, TestApp};
use serde_json::json;

const READ: &str =
    "query($id: ID!) { post(id: $id) { title author { name } category { name } voteCount } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn reads_survive_a_redis_outage_and_hits_resume_after_it() {
    let Some(binary) = redis_binary() else {
        panic!("redis-server is not installed: install it (apt-get install redis-server)");
    };
    let port = free_port();
    let mut redis = OwnRedis::start(&binary, port);
    let backend = if crate::helpers::external_configured() {
        Backend::MariaDb
    } else {
        Backend::Sqlite
    };
    let app = TestApp::spawn_with(backend, |c| {
        c.redis_url = Some(format!("redis://127.0.0.1:{port}/0"));
        c.cache_timeout_ms = 200;
    })
    .await;
    let author = app
        .sign_up("sturdy", "sturdy@example.com", "password-1")
        .await;
    let category = app.first_category().await;
    let id = app
        .create_post(&author.access, &category, "still here", "회복력")
        .await;

    app.gql_counted(READ, json!({ "id": id }), None).await;
    let (healthy, db, _) = app.gql_counted(READ, json!({ "id": id }), None).await;
    assert_eq!(db, 0, "warm on Redis");

    // Redis dies: the same reads answer correctly from the database, and readiness says so.
    redis.kill();
    for _ in 0..3 {
        let (body, db, _) = app.gql_counted(READ, json!({ "id": id }), None).await;
        assert_eq!(body["data"], healthy["data"], "{body:#}");
        assert!(db >= 1, "reads go to the database while Redis is down");
    }
    let viewer = app
        .ok("{ viewer { name } }", json!({}), Some(&author.access))
        .await;
    assert_eq!(viewer["viewer"]["name"], "sturdy");
    let ready = app
        .client()
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);

    // The guess limit holds without its shared counters: this process counts the guesses itself.
    let answers =
        futures::future::join_all((0..8).map(|_| app.login("sturdy", "wrong-password"))).await;
    let limited = answers
        .iter()
        .filter(|a| crate::helpers::code(a) == "RATE_LIMITED")
        .count();
    assert_eq!(
        limited, 3,
        "5 guesses per account, then RATE_LIMITED: {answers:#?}"
    );
    let metrics = app.metrics_text().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("board_limiter_fallbacks_total") && !l.ends_with(" 0")),
        "the fallback is counted: {metrics}"
    );

    // Redis comes back on the same port: hits resume without restarting board.
    redis = OwnRedis::start(&binary, port);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (body, _, _) = app.gql_counted(READ, json!({ "id": id }), None).await;
        assert_eq!(body["data"], healthy["data"]);
        let (_, db, _) = app.gql_counted(READ, json!({ "id": id }), None).await;
        if db == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cache hits did not resume after Redis restarted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready = app
        .client()
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    drop(redis);
}
