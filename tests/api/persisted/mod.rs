//! Persisted operations through HTTP: Apollo's automatic persisted queries over POST and GET, trusted
//! documents (`trusted_documents`), and the HTTP caching of anonymous persisted GETs.

mod trusted;

use crate::helpers::{TestApp, code};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub(super) const CATEGORIES: &str = "query Categories { categories { id name } }";

pub(super) fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub(super) fn apq(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// `GET /graphql` with these query-string pairs (and a token, an `If-None-Match`).
pub(super) async fn get(
    app: &TestApp,
    pairs: &[(&str, String)],
    token: Option<&str>,
    if_none_match: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client()
        .get(format!("{}/graphql", app.base))
        .query(pairs);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    request.send().await.unwrap()
}

pub(super) async fn get_hash(app: &TestApp, hash: &str, token: Option<&str>) -> reqwest::Response {
    get(app, &[("extensions", apq(hash).to_string())], token, None).await
}

pub(super) fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

/// Registers `text` with its hash over POST (what Apollo's link does after `PersistedQueryNotFound`).
pub(super) async fn register(app: &TestApp, text: &str) -> Value {
    let response = app
        .post(
            &json!({ "query": text, "extensions": apq(&sha256(text)) }),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn apq_over_post(app: TestApp) {
    let hash = sha256(CATEGORIES);
    // Hash only, unknown: what Apollo's link looks for, answered 200 under application/json.
    let response = app.post(&json!({ "extensions": apq(&hash) }), None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cache-control"), "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    // Text and hash: stored, and run.
    let body = register(&app, CATEGORIES).await;
    assert!(body["data"]["categories"].is_array(), "{body:#}");
    // Hash only, now known: the stored text runs.
    let response = app.post(&json!({ "extensions": apq(&hash) }), None).await;
    assert_eq!(response.status(), 200);
    // A POST is never cacheable.
    assert_eq!(header(&response, "cache-control"), "no-store");
    let known: Value = response.json().await.unwrap();
    assert_eq!(known["data"], body["data"], "{known:#}");
    // Under application/graphql-response+json the unknown hash is a request error.
    let response = app
        .client()
        .post(format!("{}/graphql", app.base))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "extensions": apq(&sha256("{ viewer { id } }")) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
    // In a batch every element answers for itself.
    let response = app
        .post(
            &json!([
                { "extensions": apq(&hash) },
                { "extensions": apq(&sha256("{ nope }")) },
            ]),
            None,
        )
        .await;
    let list: Value = response.json().await.unwrap();
    assert!(list[0]["data"]["categories"].is_array(), "{list:#}");
    assert_eq!(code(&list[1]), "PERSISTED_QUERY_NOT_FOUND");
}

async fn a_hash_that_does_not_match_is_refused_and_nothing_is_stored(app: TestApp) {
    let other = "{ viewer { id } }";
    let hash = sha256(CATEGORIES);
    let response = app
        .post(&json!({ "query": other, "extensions": apq(&hash) }), None)
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert!(body.get("data").is_none_or(Value::is_null), "{body:#}");
    let body: Value = app
        .post(&json!({ "extensions": apq(&hash) }), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body:#}");
}

async fn malformed_persisted_queries_are_refused(app: TestApp) {
    let hash = sha256(CATEGORIES);
    for (extensions, why) in [
        (
            json!({ "persistedQuery": { "version": 2, "sha256Hash": hash } }),
            "version",
        ),
        (
            json!({ "persistedQuery": { "sha256Hash": hash } }),
            "version",
        ),
        (
            json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
            "sha256Hash",
        ),
        (json!({ "persistedQuery": "yes" }), "version"),
    ] {
        let body: Value = app
            .post(&json!({ "extensions": extensions }), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(why), "{message}");
    }
}

async fn a_text_over_the_limits_is_not_stored(app: TestApp) {
    let deep = format!(
        "{{ {}id{} }}",
        "categories { children { ".repeat(8),
        " } }".repeat(8)
    );
    let body = register(&app, &deep).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body:#}");
    let body: Value = app
        .post(&json!({ "extensions": apq(&sha256(&deep)) }), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body:#}");
    // A text within the limits but longer than 32 KiB runs, and is not kept.
    let long = format!("{{ categories {{ id }} # {}\n}}", "x".repeat(40 * 1024));
    let body = register(&app, &long).await;
    assert!(body["data"]["categories"].is_array(), "{body:#}");
    let body: Value = app
        .post(&json!({ "extensions": apq(&sha256(&long)) }), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body:#}");
}

/// A text passes every limit with a megabyte in a comment; registered for the whole TTL under fresh hashes,
/// such texts would fill the cache. Longer than 32 KiB, it runs but is not registered.
async fn a_long_text_runs_but_is_not_registered(app: TestApp) {
    let hash_only = |text: &str| json!({ "extensions": apq(&sha256(text)) });
    let short = format!("# {}\n{CATEGORIES}", "s".repeat(30 * 1024));
    let body = register(&app, &short).await;
    assert!(body["data"]["categories"].is_array(), "{body:#}");
    let body: Value = app
        .post(&hash_only(&short), None)
        .await
        .json()
        .await
        .unwrap();
    assert!(body["data"]["categories"].is_array(), "{body:#}");

    let long = format!("# {}\n{CATEGORIES}", "l".repeat(900 * 1024));
    let body = register(&app, &long).await;
    assert!(body["data"]["categories"].is_array(), "{body:#}");
    let body: Value = app
        .post(&hash_only(&long), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body:#}");
}

/// `operationName` in a GET's query string selects the operation (async-graphql's parser reads
/// `operation_name` only), so a mutation of a persisted multi-operation document is refused over GET.
async fn get_selects_the_operation_by_operation_name(app: TestApp) {
    let document = "query A { __typename } query B { categories { id } } \
                    mutation C($i: LogoutInput!) { logout(input: $i) { success } }";
    let response = get(
        &app,
        &[("query", document.into()), ("operationName", "B".into())],
        None,
        None,
    )
    .await;
    let body: Value = response.json().await.unwrap();
    assert!(body["data"]["categories"].is_array(), "{body:#}");
    let response = get(
        &app,
        &[("query", document.into()), ("operationName", "Z".into())],
        None,
        None,
    )
    .await;
    let body: Value = response.json().await.unwrap();
    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains('Z'),
        "{body:#}"
    );
    // Without a name none of several operations is picked: the same answer whatever order the parser
    // keeps them in (each text is a new parse).
    for spaces in 0..8 {
        let text = format!("{document}{}", " ".repeat(spaces));
        let response = get(&app, &[("query", text)], None, None).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
    }

    let body = app
        .post(
            &json!({ "query": document, "operationName": "A", "extensions": apq(&sha256(document)) }),
            None,
        )
        .await;
    assert_eq!(body.status(), 200);
    let response = get(
        &app,
        &[
            ("documentId", sha256(document)),
            ("operationName", "C".into()),
            (
                "variables",
                json!({ "i": { "refreshToken": "x" } }).to_string(),
            ),
        ],
        None,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

async fn anonymous_persisted_gets_are_cacheable(app: TestApp) {
    let hash = sha256(CATEGORIES);
    let response = get_hash(&app, &hash, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cache-control"), "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
    register(&app, CATEGORIES).await;

    let response = get_hash(&app, &hash, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cache-control"), "public, max-age=60");
    let vary: Vec<&str> = response
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(vary.iter().any(|v| v.contains("Authorization")), "{vary:?}");
    let etag = header(&response, "etag").to_owned();
    assert!(
        etag.starts_with('"') && etag.len() > 10,
        "a strong ETag: {etag}"
    );
    let body = response.bytes().await.unwrap();
    // The body ends with this request's cost numbers (`"cost":{"requested":…,"remaining":…}}}`), which
    // differ for each request: the tag is the hash of what comes before them.
    let text = std::str::from_utf8(&body).unwrap();
    let stable = &text[..text.rfind("\"cost\":").expect("extensions.cost") + "\"cost\":".len()];
    assert_eq!(
        etag,
        format!("\"{}\"", hex::encode(Sha256::digest(stable.as_bytes()))),
        "the ETag is the hash of the body without its cost numbers"
    );
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(body["data"]["categories"].is_array(), "{body:#}");

    // The same tag again: 304 without a body.
    let response = get(
        &app,
        &[("extensions", apq(&hash).to_string())],
        None,
        Some(&etag),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&response, "etag"), etag);
    assert!(response.bytes().await.unwrap().is_empty());
    // Another tag: the full answer.
    let response = get(
        &app,
        &[("extensions", apq(&hash).to_string())],
        None,
        Some("\"other\""),
    )
    .await;
    assert_eq!(response.status(), 200);

    // A documentId naming the registered hash (with or without `sha256:`) is a persisted GET too.
    for id in [hash.clone(), format!("sha256:{hash}")] {
        let response = get(&app, &[("documentId", id)], None, None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "cache-control"), "public, max-age=60");
        assert_eq!(header(&response, "etag"), etag);
    }
}

async fn other_answers_are_never_cacheable(app: TestApp) {
    let session = app
        .sign_up("cacheless", "cacheless@example.com", "password-1")
        .await;
    register(&app, CATEGORIES).await;
    let hash = sha256(CATEGORIES);
    // Authenticated.
    let response = get_hash(&app, &hash, Some(&session.access)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cache-control"), "no-store");
    assert!(header(&response, "etag").is_empty());
    // A raw query over GET.
    let response = get(&app, &[("query", CATEGORIES.to_owned())], None, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cache-control"), "no-store");
    // A persisted query whose answer has errors.
    let failing = "query Broken { post(id: \"not-an-id\") { id } }";
    let body = register(&app, failing).await;
    assert!(body["errors"].is_array(), "{body:#}");
    let response = get_hash(&app, &sha256(failing), None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cache-control"), "no-store");
    // A persisted mutation never runs over GET.
    let mutation = "mutation Out($i: LogoutInput!) { logout(input: $i) { success } }";
    let body: Value = app
        .post(
            &json!({
                "query": mutation,
                "variables": { "i": { "refreshToken": session.refresh } },
                "extensions": apq(&sha256(mutation)),
            }),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        body.get("errors").is_some() || body["data"].is_object(),
        "{body:#}"
    );
    let response = get(
        &app,
        &[
            ("extensions", apq(&sha256(mutation)).to_string()),
            (
                "variables",
                json!({ "i": { "refreshToken": "x" } }).to_string(),
            ),
        ],
        None,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&response, "cache-control"), "no-store");
    // A bad token is refused, not served (or cached) as anonymous.
    let response = get_hash(&app, &hash, Some("not-a-token")).await;
    assert_eq!(header(&response, "cache-control"), "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "UNAUTHENTICATED");
}

backend_tests!(
    apq_over_post,
    a_hash_that_does_not_match_is_refused_and_nothing_is_stored,
    malformed_persisted_queries_are_refused,
    a_text_over_the_limits_is_not_stored,
    a_long_text_runs_but_is_not_registered,
    get_selects_the_operation_by_operation_name,
    anonymous_persisted_gets_are_cacheable,
    other_answers_are_never_cacheable,
);
