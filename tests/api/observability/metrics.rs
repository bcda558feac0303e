//! `/metrics` after a scripted set of operations: every series exists with the expected labels, and counts
//! move by exactly what was done.

use crate::helpers::{Backend, TestApp, own_process};
use serde_json::json;

/// The value of the sample whose name is `name` and whose labels include every `labels` pair; 0 when absent.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        .sum()
}

async fn scrape(app: &TestApp) -> String {
    let response = app
        .client()
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    response.text().await.unwrap()
}

async fn run(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tag = &crate::helpers::unique("")[..8];
    let user = app
        .sign_up(
            &format!("m{tag}"),
            &format!("m{tag}@example.com"),
            "password-1",
        )
        .await;
    let category =
        app.ok("{ categories { id } }", json!({}), None).await["categories"][0]["id"].clone();
    let post = app
        .ok(
            "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
            json!({ "i": { "categoryId": category, "title": "measured", "content": "x" } }),
            Some(&user.access),
        )
        .await["createPost"]["post"]["id"]
        .clone();
    let op = format!("ReadPost{tag}");
    // Each read is worded differently (an alias): a repeat would be answered whole from the kept answers,
    // without reading the post cache. One read to make sure the post is cached, then N measured warm reads.
    let read = |n: usize| {
        format!("query {op}($id: ID!) {{ post(id: $id) {{ t{n}: title author {{ name }} }} }}")
    };
    app.ok(&read(0), json!({ "id": post }), Some(&user.access))
        .await;
    let before = scrape(&app).await;
    const N: usize = 7;
    for n in 1..=N {
        app.ok(&read(n), json!({ "id": post }), Some(&user.access))
            .await;
    }
    let bad = app.login(&format!("m{tag}"), "wrong-password").await;
    assert_eq!(crate::helpers::code(&bad), "UNAUTHENTICATED");
    app.login(&format!("m{tag}"), "password-1").await;
    let refreshed = app
        .gql(
            "mutation($t: String!) { refreshToken(input: { refreshToken: $t }) { accessToken } }",
            json!({ "t": user.refresh }),
            None,
        )
        .await;
    assert!(refreshed.get("errors").is_none());
    let after = scrape(&app).await;

    let delta = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(&before, name, labels)
    };
    let ok = [
        ("graphql_operation_name", op.as_str()),
        ("graphql_operation_type", "query"),
        ("outcome", "ok"),
    ];
    assert_eq!(delta("board_graphql_operations_total", &ok), N as f64);
    assert_eq!(
        delta("board_graphql_operation_duration_seconds_count", &ok),
        N as f64
    );
    assert_eq!(
        delta(
            "board_cache_requests_total",
            &[("cache", "post"), ("result", "hit")]
        ),
        N as f64,
        "N warm reads, N post hits"
    );
    // Each warm read hits the author; the successful login and the refresh read their user once each.
    assert_eq!(
        delta(
            "board_cache_requests_total",
            &[("cache", "user"), ("result", "hit")]
        ),
        (N + 2) as f64
    );
    assert!(
        delta(
            "http_server_request_duration_seconds_count",
            &[
                ("http_route", "/graphql"),
                ("http_request_method", "POST"),
                ("http_response_status_code", "200")
            ]
        ) >= N as f64
    );
    assert!(delta("board_auth_logins_total", &[("outcome", "invalid")]) >= 1.0);
    assert!(delta("board_auth_logins_total", &[("outcome", "success")]) >= 1.0);
    assert!(
        delta(
            "board_auth_token_refreshes_total",
            &[("outcome", "success")]
        ) >= 1.0
    );
    let failed_login = [
        ("graphql_operation_type", "mutation"),
        ("outcome", "UNAUTHENTICATED"),
    ];
    assert!(delta("board_graphql_operations_total", &failed_login) >= 1.0);
    // Warm reads cost no database round trip: the histogram's zero bucket grew by N.
    assert!(delta("board_db_round_trips_bucket", &[("le", "0")]) >= N as f64);
    for family in [
        "board_db_query_duration_seconds_count",
        "board_pool_connections",
        "board_pool_max_connections",
        "board_log_lines_dropped_total",
        "board_rate_limited_total",
        "process_cpu_time_seconds_total",
        "process_memory_usage_bytes",
        "process_open_file_descriptor_count",
        "board_build_info",
    ] {
        assert!(
            after.lines().any(|l| l.starts_with(family)),
            "{family} missing from /metrics"
        );
    }
    assert!(sample(&after, "board_pool_max_connections", &[("pool", "db")]) >= 1.0);
    assert_eq!(
        sample(
            &after,
            "board_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    // Label values stay bounded: no ids, no raw queries.
    assert!(!after.contains("post(id"));
    assert!(!after.contains(post.as_str().unwrap()));
}

// The counters are global to the process: each variant runs in a process of its own, so they move by what
// it did alone.
#[test]
fn metrics_count_what_was_done_on_sqlite() {
    own_process::run(
        module_path!(),
        "metrics_count_what_was_done_on_sqlite",
        || own_process::block_on(run(Backend::Sqlite)),
    );
}

#[test]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
fn metrics_count_what_was_done_on_mariadb_and_redis() {
    own_process::run(
        module_path!(),
        "metrics_count_what_was_done_on_mariadb_and_redis",
        || own_process::block_on(run(Backend::MariaDb)),
    );
}
