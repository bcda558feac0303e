//! The HTTP edge: CSRF rules, limits, request ids, health and readiness, error codes of the engine.

use std::sync::Arc;
use std::time::Duration;

use crate::helpers::{Backend, TestApp, code};
use async_trait::async_trait;
use board::ports::{Cache, CacheError, FillEntry};
use serde_json::{Value, json};

async fn app() -> TestApp {
    TestApp::spawn(Backend::Sqlite).await
}

#[tokio::test]
async fn request_ids_are_generated_or_echoed() {
    let app = app().await;
    let url = format!("{}/graphql", app.base);
    let generated = app
        .client()
        .post(&url)
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .unwrap();
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let echoed = app
        .client()
        .post(&url)
        .header("x-request-id", "trace-me-123")
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-123");
    // A client's id is kept only when short and plain.
    let send = |id: String| {
        app.client()
            .post(&url)
            .header("x-request-id", id)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
    };
    let long = "a".repeat(8_000);
    let answer = send(long.clone()).await.unwrap();
    let echoed = answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(echoed, long);
    assert!(echoed.len() <= 64, "{echoed}");
    let answer = send("trace-42.a:b_c".into()).await.unwrap();
    assert_eq!(answer.headers()["x-request-id"], "trace-42.a:b_c");
}

#[tokio::test]
async fn cross_site_simple_requests_are_refused() {
    let app = app().await;
    let url = format!("{}/graphql", app.base);
    let mutation = r#"{"query":"mutation { logout(input: {refreshToken: \"x\"}) { success } }"}"#;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let response = app
            .client()
            .post(&url)
            .header("content-type", content_type)
            .body(mutation)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415, "{content_type}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(code(&body), "BAD_USER_INPUT");
    }
    // GET runs queries, never mutations.
    let get = |q: &str| app.client().get(&url).query(&[("query", q)]).send();
    let query = get("{ viewer { id } }").await.unwrap();
    assert_eq!(query.status(), 200);
    let body: Value = query.json().await.unwrap();
    assert!(body["data"]["viewer"].is_null());
    let mutation = get("mutation { logout(input: {refreshToken: \"x\"}) { success } }")
        .await
        .unwrap();
    assert_eq!(mutation.status(), 405);
    let body: Value = mutation.json().await.unwrap();
    assert_eq!(code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn oversized_bodies_get_413_with_a_code() {
    let app = app().await;
    let padding = "x".repeat(1024 * 1024 + 1);
    let response = app
        .client()
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": "{ viewer { id } }", "variables": { "pad": padding } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn malformed_documents_are_bad_user_input() {
    let app = app().await;
    let bad_json = app
        .client()
        .post(format!("{}/graphql", app.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    assert_eq!(
        code(&bad_json.json::<Value>().await.unwrap()),
        "BAD_USER_INPUT"
    );

    for query in [
        "{ viewer { id ",
        "{ noSuchField }",
        "{ user { id } }",
        "{ nodes(ids: 5) { id } }",
    ] {
        let body = app.gql(query, json!({}), None).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{query}: {body:#}");
    }
}

#[tokio::test]
async fn limits_answer_query_too_complex() {
    let app = app().await;
    let deep = format!(
        "{{ categories {} id {} }}",
        "{ children ".repeat(12),
        "}".repeat(12)
    );
    let body = app.gql(&deep, json!({}), None).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body:#}");

    let ids: Vec<String> = (1..=100).map(|i| format!("\"VXNlcjo{i}\"")).collect();
    let expensive = format!(
        "{{ nodes(ids: [{}]) {{ ... on User {{ loginHistory(first: 100) {{ edges {{ node {{ createdAt }} }} }} }} }} }}",
        ids.join(",")
    );
    let (body, db, _) = app.gql_counted(&expensive, json!({}), None).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body:#}");
    assert_eq!(db, 0, "refused before touching the database");

    let batch: Vec<Value> = (0..11)
        .map(|_| json!({ "query": "{ viewer { id } }" }))
        .collect();
    // Past max_batch: every element answers the refusal (a batch link matches answers to operations).
    let response = app.post(&Value::Array(batch), None).await;
    let body: Value = response.json().await.unwrap();
    let list = body.as_array().expect("an array for a batch");
    assert_eq!(list.len(), 11, "{body:#}");
    for element in list {
        assert_eq!(code(element), "QUERY_TOO_COMPLEX", "{body:#}");
        assert!(
            element.get("data").is_none_or(Value::is_null),
            "nothing ran: {body:#}"
        );
    }
    // A batch far past any client's: one error object.
    let huge: Vec<Value> = (0..101).map(|_| json!({})).collect();
    let response = app.post(&Value::Array(huge), None).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        code(&response.json::<Value>().await.unwrap()),
        "QUERY_TOO_COMPLEX"
    );

    let batch: Vec<Value> = (0..2)
        .map(|_| json!({ "query": "{ viewer { id } }" }))
        .collect();
    let response = app.post(&Value::Array(batch), None).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body.as_array().unwrap().len(),
        2,
        "batches of up to 10 run: {body:#}"
    );
}

#[tokio::test]
async fn health_readiness_robots_and_graphiql() {
    let app = app().await;
    let get = |path: &str| app.client().get(format!("{}{path}", app.base)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["database"]["status"], "ok");
    assert_eq!(ready["cache"]["kind"], "memory");
    assert_eq!(ready["events"], json!({ "kind": "memory", "status": "ok" }));
    let robots = get("/robots.txt").await.unwrap().text().await.unwrap();
    assert!(robots.contains("Disallow: /"));
    for path in ["/", "/graphiql"] {
        let page = get(path).await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(
            page.text()
                .await
                .unwrap()
                .to_lowercase()
                .contains("graphiql"),
            "{path}"
        );
    }
    assert_eq!(get("/nope").await.unwrap().status(), 404);
}

#[tokio::test]
async fn graphiql_and_introspection_can_be_switched_off() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.graphiql = false;
        c.introspection = false;
    })
    .await;
    let page = app
        .client()
        .get(format!("{}/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    let body = app
        .gql("{ __schema { types { name } } }", json!({}), None)
        .await;
    assert!(
        body["data"]["__schema"].is_null(),
        "no schema is disclosed: {body:#}"
    );
}

/// A cache that is down.
struct DownCache;

#[async_trait]
impl Cache for DownCache {
    async fn get_many(&self, _: &[String]) -> Result<Vec<Option<String>>, CacheError> {
        Err(CacheError("down".into()))
    }
    async fn set_many(&self, _: &[(String, String, Duration)]) -> Result<(), CacheError> {
        Err(CacheError("down".into()))
    }
    async fn get_for_fill(
        &self,
        _: &[String],
    ) -> Result<(Vec<Option<String>>, Vec<u64>), CacheError> {
        Err(CacheError("down".into()))
    }
    async fn fill_many(&self, _: &[FillEntry]) -> Result<(), CacheError> {
        Err(CacheError("down".into()))
    }
    async fn delete(&self, _: &[String]) -> Result<Vec<u64>, CacheError> {
        Err(CacheError("down".into()))
    }
    async fn ping(&self) -> Result<(), CacheError> {
        Err(CacheError("down".into()))
    }
    fn kind(&self) -> &'static str {
        "redis"
    }
}

#[tokio::test]
async fn a_cache_outage_fails_readiness_but_reads_still_work() {
    let (config, _cleanup) = crate::helpers::test_config(Backend::Sqlite).await;
    let mut app = board::App::build(config).await.unwrap();
    app = app.with_cache(Arc::new(DownCache));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.serve(listener, async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::new();
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["cache"]["status"], "unavailable");
    assert_eq!(ready["database"]["status"], "ok");

    // Sign-up, login and reads go to the database.
    let sign_up = json!({ "query": "mutation { signUp(input: {name: \"quinn\", email: \"q@example.com\", password: \"password-1\"}) { accessToken } }" });
    let body: Value = client
        .post(format!("{base}/graphql"))
        .json(&sign_up)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["data"]["signUp"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body:#}"));
    let viewer: Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": "{ viewer { name } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(viewer["data"]["viewer"]["name"], "quinn", "{viewer:#}");
}
