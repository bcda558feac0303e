//! Subscriptions across processes and through a Redis outage: events travel over Redis pub/sub, so a
//! subscriber on one `board serve` hears writes made through another, and hears them again once a Redis
//! that went away is back.

use std::time::{Duration, Instant};

use crate::helpers::process::serve;
use crate::helpers::redis::{OwnRedis, free_port};
use crate::helpers::ws::WsClient;
use crate::helpers::{Backend, TestApp};
use serde_json::{Value, json};

async fn gql(base: &str, query: &str, variables: Value, token: Option<&str>) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let body: Value = request.send().await.unwrap().json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"].clone()
}

const COMMENT_ADDED: &str = "subscription($p: ID!) { commentAdded(postId: $p) { content } }";
const POST_UPDATED: &str = "subscription($p: ID!) { postUpdated(postId: $p) { title } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn a_comment_written_through_one_replica_reaches_a_subscriber_on_another() {
    crate::helpers::require_external();
    let (config, _cleanup) = crate::helpers::test_config(Backend::MariaDb).await;
    // Migrated once here, so the replicas (started one after the other) find it done.
    board::App::build(config.clone()).await.unwrap();
    let (process_a, process_b) = (serve(&config, &[]).await, serve(&config, &[]).await);
    let (a, b) = (process_a.base.clone(), process_b.base.clone());
    let signed = gql(
        &a,
        "mutation { signUp(input: { name: \"twin\", email: \"twin@example.com\", password: \"password-1\" }) { accessToken } }",
        json!({}),
        None,
    )
    .await;
    let token = signed["signUp"]["accessToken"].as_str().unwrap().to_owned();
    let category =
        gql(&a, "{ categories { id } }", json!({}), None).await["categories"][0]["id"].clone();
    let post = gql(
        &a,
        "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
        json!({ "i": { "categoryId": category, "title": "t", "content": "c" } }),
        Some(&token),
    )
    .await["createPost"]["post"]["id"]
        .clone();
    let mut on_b = WsClient::ready(&b, None).await;
    on_b.listen("1", COMMENT_ADDED, json!({ "p": post })).await;
    for round in 0..3 {
        let content = format!("through A, round {round}");
        gql(
            &a,
            "mutation($i: CreateCommentInput!) { createComment(input: $i) { comment { id } } }",
            json!({ "i": { "postId": post, "content": content } }),
            Some(&token),
        )
        .await;
        assert_eq!(
            on_b.next_of("1").await["data"]["commentAdded"]["content"],
            content
        );
    }
}

/// The `/readyz` status of the event feed.
/// The status `/readyz` reports for one of its parts (`events`, `cache`, …).
async fn ready_status(app: &TestApp, part: &str) -> String {
    let body: Value = app
        .client()
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body[part]["status"].as_str().unwrap_or_default().to_owned()
}

async fn events_status(app: &TestApp) -> String {
    ready_status(app, "events").await
}

/// Waits (at most 30 s) until `/readyz` reports `part` as `status`.
async fn becomes(app: &TestApp, part: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while ready_status(app, part).await != status {
        assert!(
            Instant::now() < deadline,
            "/readyz never reported {part} as {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn delivery_resumes_after_redis_comes_back() {
    let port = free_port();
    let mut redis = OwnRedis::start("redis-server", port);
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
        .sign_up("steady", "steady@example.com", "password-1")
        .await;
    let category = app.first_category().await;
    let post = app.create_post(&author.access, &category, "v0", "c").await;
    let edit = |title: &'static str| {
        let (app, token, post) = (&app, author.access.clone(), post.clone());
        async move {
            app.ok(
                "mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { id } } }",
                json!({ "i": { "postId": post, "title": title, "content": "c" } }),
                Some(&token),
            )
            .await;
        }
    };
    let mut client = WsClient::ready(&app.base, None).await;
    client.listen("1", POST_UPDATED, json!({ "p": post })).await;
    edit("before").await;
    assert_eq!(
        client.next_of("1").await["data"]["postUpdated"]["title"],
        "before"
    );
    assert_eq!(events_status(&app).await, "ok");

    // Redis goes away: writes still work (the event is lost), the socket stays open, readiness says so.
    drop(redis);
    becomes(&app, "events", "reconnecting").await;
    edit("during").await;

    // Redis is back on the same port: the feed is followed again and delivery resumes on the same socket.
    redis = OwnRedis::start("redis-server", port);
    // Both halves are back: the feed's subscriber connection, and the cache's pool that publishes (an event
    // published while the pool still reconnects is lost, like one published during the outage).
    becomes(&app, "events", "ok").await;
    becomes(&app, "cache", "ok").await;
    edit("after").await;
    // The event of the edit during the outage is lost, or — when the pool still held its command as it
    // reconnected — delivered late, before the next one; never after it.
    let mut heard = client.next_of("1").await;
    if heard["data"]["postUpdated"]["title"] == "during" {
        heard = client.next_of("1").await;
    }
    assert_eq!(heard["data"]["postUpdated"]["title"], "after", "{heard:#}");
    drop(redis);
}
