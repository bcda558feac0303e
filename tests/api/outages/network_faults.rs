//! Network faults between `board` and its backing services, injected by a TCP proxy of our own: the database
//! connection cut under a running server (answers `SERVICE_UNAVAILABLE` in bounded time, then heals by itself),
//! and a slow Redis (every cache command is bounded by `cache_timeout_ms`, reads fall back to the database).

use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::helpers::proxy::Proxy;
use crate::helpers::redis::{OwnRedis, free_port, redis_binary};
use crate::helpers::{Backend, TestApp, code};
use serde_json::{Value, json};
use sqlx::Connection;

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

/// No single wait in these tests may exceed this: a server that hangs fails the test instead of CI.
const HANG: Duration = Duration::from_secs(30);

async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(HANG, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: no answer within {HANG:?} (the server hangs)"),
    }
}

/// POSTs an operation; answers (HTTP status, body, how long it took).
async fn timed_gql(
    app: &TestApp,
    query: &str,
    variables: Value,
    token: Option<&str>,
) -> (u16, Value, Duration) {
    let started = Instant::now();
    let response = bounded(
        query,
        app.post(&json!({ "query": query, "variables": variables }), token),
    )
    .await;
    let status = response.status().as_u16();
    let body: Value = bounded(query, response.json()).await.unwrap();
    (status, body, started.elapsed())
}

async fn get_status(app: &TestApp, path: &str) -> (u16, String) {
    let response = bounded(path, app.client().get(format!("{}{path}", app.base)).send())
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, bounded(path, response.text()).await.unwrap())
}

async fn first_category(app: &TestApp) -> String {
    app.first_category().await
}

async fn create_post(app: &TestApp, token: &str, category: &str, title: &str) -> String {
    app.create_post(token, category, title, "fault injection")
        .await
}

// ---------------------------------------------------------------------------------------------------------------
// The database connection is cut
// ---------------------------------------------------------------------------------------------------------------

// Oldest first: the newest list's first page is one warm cache entry, which would answer without the database.
const COUNT: &str =
    "{ posts(first: 5, orderBy: OLDEST) { totalCount edges { node { id title } } } }";
const CREATE: &str = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn database_outage_answers_service_unavailable_and_recovers() {
    // SQLite is a file inside the process: there is no connection to cut, so this runs on MariaDB only.
    crate::helpers::require_external();
    const ACQUIRE_MS: u64 = 1_500;
    let admin = url::Url::from_str(&std::env::var("TEST_DATABASE_URL").unwrap()).unwrap();
    let target = format!(
        "{}:{}",
        admin.host_str().unwrap(),
        admin.port().unwrap_or(3306)
    );
    let proxy = Proxy::start(target).await;
    let proxy_port = proxy.port();
    let mut direct_url = String::new();
    let app = TestApp::spawn_with(Backend::MariaDb, |c| {
        // Same user, password and per-test database; only the address goes through the proxy.
        direct_url = c.database_url.clone();
        let mut url = url::Url::from_str(&c.database_url).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(proxy_port)).unwrap();
        c.database_url = url.to_string();
        c.db_acquire_timeout_ms = ACQUIRE_MS;
        c.db_max_connections = 4;
    })
    .await;

    // Healthy: a user, a post, and reads of it.
    let author = app
        .sign_up("faulty", "faulty@example.com", "password-1")
        .await;
    let category = first_category(&app).await;
    let title = "written before the fault";
    let id = create_post(&app, &author.access, &category, title).await;
    let post = app
        .ok(
            "query($id: ID!) { post(id: $id) { title } }",
            json!({ "id": id }),
            None,
        )
        .await;
    assert_eq!(post["post"]["title"], title);
    let before = app.ok(COUNT, json!({}), None).await;
    assert_eq!(before["posts"]["totalCount"], 1, "{before:#}");
    assert_eq!(get_status(&app, "/readyz").await.0, 200);

    // The connection to the database is cut, and stays cut.
    proxy.r#break();
    let limit = Duration::from_millis(ACQUIRE_MS) + Duration::from_secs(2);

    let (status, body, took) = timed_gql(&app, COUNT, json!({}), None).await;
    eprintln!("outage: read answered {status} in {took:?}: {body}");
    assert_eq!(status, 200, "GraphQL errors answer 200: {body:#}");
    assert_eq!(
        code(&body),
        "SERVICE_UNAVAILABLE",
        "a database that cannot be reached is SERVICE_UNAVAILABLE, not another code: {body:#}"
    );
    assert!(
        took < limit,
        "the read took {took:?}; it must give up within the acquire timeout + 2 s ({limit:?})"
    );

    // Still down a second time (now without idle connections left in the pool).
    let (status, body, took) = timed_gql(&app, COUNT, json!({}), None).await;
    eprintln!("outage: second read answered {status} in {took:?}: {body}");
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(code(&body), "SERVICE_UNAVAILABLE", "{body:#}");
    assert!(took < limit, "the second read took {took:?} (> {limit:?})");

    // A write during the outage fails the same way, and is not acknowledged.
    let (status, body, took) = timed_gql(
        &app,
        CREATE,
        json!({ "i": { "categoryId": category, "title": "written during the fault", "content": "x" } }),
        Some(&author.access),
    )
    .await;
    eprintln!("outage: write answered {status} in {took:?}: {body}");
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(code(&body), "SERVICE_UNAVAILABLE", "{body:#}");
    assert!(took < limit, "the write took {took:?} (> {limit:?})");

    let started = Instant::now();
    let (ready, ready_body) = get_status(&app, "/readyz").await;
    eprintln!(
        "outage: /readyz answered {ready} in {:?}: {ready_body}",
        started.elapsed()
    );
    assert_eq!(ready, 503, "{ready_body}");
    let ready_body: Value = serde_json::from_str(&ready_body).unwrap();
    assert_eq!(ready_body["database"]["status"], "unavailable");
    assert!(
        started.elapsed() < limit,
        "/readyz took {:?}",
        started.elapsed()
    );
    assert_eq!(
        get_status(&app, "/healthz").await.0,
        200,
        "the process is alive"
    );

    // The network heals: the same server answers again, without a restart.
    proxy.restore();
    let restored = Instant::now();
    let deadline = restored + Duration::from_secs(10);
    let after = loop {
        let (status, body, took) = timed_gql(&app, COUNT, json!({}), None).await;
        if status == 200 && body.get("errors").is_none() {
            eprintln!(
                "restored: the read succeeds {:?} after the restore (this one took {took:?})",
                restored.elapsed()
            );
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "the read still fails 10 s after the database came back: {status} {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let ready = loop {
        let (ready, ready_body) = get_status(&app, "/readyz").await;
        if ready == 200 || Instant::now() >= deadline {
            break (ready, ready_body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(ready.0, 200, "readiness after the restore: {}", ready.1);

    // What was acknowledged before the fault is there; what failed during it is not.
    assert_eq!(after["data"]["posts"]["totalCount"], 1, "{after:#}");
    assert_eq!(
        after["data"]["posts"]["edges"][0]["node"]["id"], id,
        "{after:#}"
    );
    assert_eq!(
        after["data"]["posts"]["edges"][0]["node"]["title"], title,
        "{after:#}"
    );
    let mut conn = bounded(
        "direct connection",
        sqlx::MySqlConnection::connect(&direct_url),
    )
    .await
    .unwrap();
    // `title` is utf8mb4_bin, which MariaDB reports as VARBINARY: read bytes.
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT title FROM post_content ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let stored: Vec<String> = stored
        .into_iter()
        .map(|t| String::from_utf8(t).unwrap())
        .collect();
    assert_eq!(
        stored,
        vec![title.to_owned()],
        "the database holds the acknowledged post and nothing else"
    );
    let _ = conn.close().await;

    // And writes work again.
    create_post(&app, &author.access, &category, "written after the fault").await;
    drop(proxy);
}

// ---------------------------------------------------------------------------------------------------------------
// Redis answers slowly
// ---------------------------------------------------------------------------------------------------------------

const READ: &str =
    "query($id: ID!) { post(id: $id) { title author { name } category { name } voteCount } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn slow_redis_is_bounded_by_the_cache_timeout() {
    let Some(binary) = redis_binary() else {
        panic!("redis-server is not installed: install it (apt-get install redis-server)");
    };
    let port = free_port();
    let redis = OwnRedis::start(&binary, port);
    let proxy = Proxy::start(format!("127.0.0.1:{port}")).await;
    let proxy_port = proxy.port();
    let backend = if crate::helpers::external_configured() {
        Backend::MariaDb
    } else {
        Backend::Sqlite
    };
    let app = TestApp::spawn_with(backend, |c| {
        c.redis_url = Some(format!("redis://127.0.0.1:{proxy_port}/0"));
        c.cache_timeout_ms = 200;
    })
    .await;

    let author = app
        .sign_up("slowpoke", "slow@example.com", "password-1")
        .await;
    let category = first_category(&app).await;
    let id = create_post(&app, &author.access, &category, "patience").await;

    // Warm: the second read is served by Redis alone.
    bounded("warm-up", app.gql_counted(READ, json!({ "id": id }), None)).await;
    let (healthy, db, cache) = bounded(
        "warm read",
        app.gql_counted(READ, json!({ "id": id }), None),
    )
    .await;
    assert!(healthy.get("errors").is_none(), "{healthy:#}");
    assert_eq!(db, 0, "warm on Redis (cache round trips: {cache})");

    // Redis now answers 2 s late: each cache command gives up after 200 ms and the read goes to the database.
    proxy.set_delay(Duration::from_secs(2));
    for attempt in 0..3 {
        let started = Instant::now();
        let (body, db, cache) = bounded(
            "slow read",
            app.gql_counted(READ, json!({ "id": id }), None),
        )
        .await;
        let took = started.elapsed();
        eprintln!("slow Redis: read {attempt} took {took:?} (db {db}, cache {cache}): {body}");
        assert_eq!(body["data"], healthy["data"], "{body:#}");
        assert!(
            took < Duration::from_millis(1_500),
            "read {attempt} took {took:?} with Redis 2 s late; cache_timeout_ms = 200 should bound it"
        );
        assert!(db >= 1, "the read falls back to the database (db {db})");
    }

    // Redis is fast again: hits resume without restarting board.
    proxy.set_delay(Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (body, _, _) = bounded("read", app.gql_counted(READ, json!({ "id": id }), None)).await;
        assert_eq!(body["data"], healthy["data"], "{body:#}");
        let (_, db, _) = bounded("read", app.gql_counted(READ, json!({ "id": id }), None)).await;
        if db == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cache hits did not resume within 20 s of Redis being fast again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (ready, ready_body) = get_status(&app, "/readyz").await;
    assert_eq!(ready, 200, "{ready_body}");
    drop(proxy);
    drop(redis);
}
