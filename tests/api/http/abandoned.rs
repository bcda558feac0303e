//! Requests nobody waits for any more: past the request timeout, or after their client went away. The
//! server keeps answering, and a mutation still runs to its end (docs/pipeline.md#runs-to-its-end).

use std::time::Duration;

use crate::helpers::{Backend, TestApp, code};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const SIGN_UP: &str = "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }";

fn sign_up(name: &str) -> serde_json::Value {
    json!({ "query": SIGN_UP, "variables": { "i": {
        "name": name, "email": format!("{name}@example.com"), "password": "password-1"
    } } })
}

/// A server whose requests time out after 5 ms: bcrypt at cost 12 takes far longer.
async fn impatient_server() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |c| {
        c.request_timeout_ms = 5;
        c.bcrypt_cost = 12;
    })
    .await
}

async fn send(app: &TestApp, body: &serde_json::Value) -> serde_json::Value {
    let response = app.post(body, None).await;
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_mutation_past_the_timeout_is_answered_unavailable_and_still_completes() {
    // The answer comes at the timeout, the sign-up goes on.
    let app = impatient_server().await;
    let body = send(&app, &sign_up("slowpoke")).await;
    assert_eq!(code(&body), "SERVICE_UNAVAILABLE", "{body:#}");
    let health = app
        .client()
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        app.account_appears("slowpoke").await,
        "the sign-up was stopped half-way"
    );
}

#[tokio::test]
async fn a_batch_past_the_timeout_answers_every_operation() {
    let app = impatient_server().await;
    let body = send(&app, &json!([sign_up("first"), sign_up("second")])).await;
    let answers = body.as_array().expect("an array for a batch");
    assert_eq!(answers.len(), 2, "{body:#}");
    assert!(
        answers.iter().all(|a| code(a) == "SERVICE_UNAVAILABLE"),
        "{body:#}"
    );
    assert!(app.account_appears("first").await);
    assert!(app.account_appears("second").await);
}

/// Sends `name`'s sign-up and closes the connection without reading an answer: after a second, long
/// enough for the request to be read and started on a busy machine, short against the hashing (cost 15:
/// seconds).
async fn sign_up_and_leave(app: &TestApp, name: &str) {
    let body = serde_json::to_string(&sign_up(name)).unwrap();
    let mut socket = TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nhost: board\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(socket);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_whose_client_went_away_still_completes() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.bcrypt_cost = 15).await;
    sign_up_and_leave(&app, "gone").await;
    assert!(
        app.account_appears("gone").await,
        "the sign-up stopped with its client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_a_client_left_still_counts_against_its_connections() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.bcrypt_cost = 15;
        c.max_connections_per_client = 1;
    })
    .await;
    // A connection's work goes on after its client left: the address has no slot left.
    sign_up_and_leave(&app, "left").await;
    let refused = reqwest::Client::new()
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await;
    assert!(refused.is_err(), "served while its work ran: {refused:?}");
    // Once that work is done, the address is served again.
    assert!(app.account_appears("left").await);
    let mut served = false;
    for _ in 0..100 {
        let fresh = reqwest::Client::new()
            .post(format!("{}/graphql", app.base))
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await;
        if fresh.is_ok_and(|r| r.status().is_success()) {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "the address stayed locked out");
}
