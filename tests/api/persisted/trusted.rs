//! Trusted documents (`trusted_documents`): only the documents of a manifest run, and registered texts are
//! shared by replicas.

use serde_json::{Value, json};

use super::{CATEGORIES, apq, get, get_hash, header, register, sha256};
use crate::helpers::{Backend, TestApp, code};

const LISTED: &str = "query Listed { categories { id } }";
const LISTED_ID: &str = "6e1b8d6f3a0c4a1e9b7d2c5f8a3e6b9d0c1f4a7e2b5d8c3f6a9e0b1d4c7f2a5e";

/// A server whose trusted documents are a manifest as graphql-codegen's client preset writes it: one entry
/// under its text's SHA-256, one under an id of its own.
async fn trusted(backend: Backend) -> (TestApp, std::path::PathBuf) {
    let path =
        std::env::temp_dir().join(format!("{}.json", crate::helpers::unique("board-trusted-")));
    let manifest = json!({
        sha256(CATEGORIES): CATEGORIES,
        LISTED_ID: LISTED,
    });
    std::fs::write(&path, manifest.to_string()).unwrap();
    let app = TestApp::spawn_with(backend, |c| c.trusted_documents = Some(path.clone())).await;
    (app, path)
}

async fn only_trusted_documents_run(backend: Backend) {
    let (app, path) = trusted(backend).await;
    // Listed documents by id (with or without `sha256:`), over POST and GET.
    for id in [
        sha256(CATEGORIES),
        format!("sha256:{}", sha256(CATEGORIES)),
        LISTED_ID.to_owned(),
    ] {
        let body: Value = app
            .post(&json!({ "documentId": id }), None)
            .await
            .json()
            .await
            .unwrap();
        assert!(body["data"]["categories"].is_array(), "{id}: {body:#}");
        let response = get(&app, &[("documentId", id.clone())], None, None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "cache-control"), "public, max-age=60");
    }
    // Apollo's hash of a listed document, and a listed text sent as it is.
    let body: Value = app
        .post(&json!({ "extensions": apq(&sha256(LISTED)) }), None)
        .await
        .json()
        .await
        .unwrap();
    assert!(body["data"]["categories"].is_array(), "{body:#}");
    let body = app.gql(LISTED, json!({}), None).await;
    assert!(body["data"]["categories"].is_array(), "{body:#}");
    // Anything else is refused before it runs.
    let body = app.gql("{ categories { name } }", json!({}), None).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_ALLOWED", "{body:#}");
    let body = register(&app, "{ categories { name } }").await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_ALLOWED", "{body:#}");
    let response = app
        .client()
        .post(format!("{}/graphql", app.base))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": "{ categories { name } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = app
        .post(&json!({ "documentId": "unlisted" }), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body:#}");
    let body: Value = app
        .post(
            &json!({ "extensions": apq(&sha256("{ viewer { id } }")) }),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body:#}");
    let body: Value = app
        .post(&json!({ "documentId": LISTED_ID, "query": LISTED }), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
    std::fs::remove_file(path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_trusted_documents_run_sqlite() {
    only_trusted_documents_run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn only_trusted_documents_run_mariadb_redis() {
    only_trusted_documents_run(Backend::MariaDb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_manifest_stops_start_up() {
    for (manifest, why) in [
        ("not json", "not a JSON object"),
        ("{\"abc\": \"query {\"}", "is not GraphQL"),
    ] {
        let path =
            std::env::temp_dir().join(format!("{}.json", crate::helpers::unique("board-bad-")));
        std::fs::write(&path, manifest).unwrap();
        let (mut config, _cleanup) = crate::helpers::test_config(Backend::Sqlite).await;
        config.trusted_documents = Some(path.clone());
        let err = board::App::build(config)
            .await
            .err()
            .expect("start-up fails")
            .to_string();
        assert!(
            err.contains("trusted_documents") && err.contains(why),
            "{err}"
        );
        std::fs::remove_file(path).unwrap();
    }
    let (mut config, _cleanup) = crate::helpers::test_config(Backend::Sqlite).await;
    config.trusted_documents = Some(std::env::temp_dir().join(crate::helpers::unique("missing-")));
    let err = board::App::build(config)
        .await
        .err()
        .expect("start-up fails")
        .to_string();
    assert!(err.contains("cannot read"), "{err}");
}

/// Registered texts live in the shared cache: a replica that never saw the text runs its hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn replicas_share_registered_queries() {
    let first = TestApp::spawn(Backend::MariaDb).await;
    let prefix = first.config.cache_prefix.clone();
    let second = TestApp::spawn_with(Backend::MariaDb, |c| c.cache_prefix = prefix).await;
    register(&first, CATEGORIES).await;
    let response = get_hash(&second, &sha256(CATEGORIES), None).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["data"]["categories"].is_array(), "{body:#}");
}
