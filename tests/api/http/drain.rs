//! Graceful drain: after the shutdown signal, in-flight requests finish, new connections are refused, and
//! the server returns within the grace period even if a request would run longer.

use std::time::{Duration, Instant};

use crate::helpers::Backend;
use serde_json::{Value, json};

const SIGN_UP: &str = "mutation { signUp(input: { name: \"drained\", email: \"d@example.com\", password: \"password-1\" }) { user { name } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_requests_finish_and_new_ones_are_refused() {
    let (mut config, _cleanup) = crate::helpers::test_config(Backend::Sqlite).await;
    // bcrypt at cost 14 keeps the sign-up in flight for a second or more, well past the moment the stop is
    // sent below.
    config.bcrypt_cost = 14;
    config.shutdown_grace_secs = 20;
    let app = board::App::build(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    let in_flight = tokio::spawn({
        let (client, url) = (client.clone(), format!("{base}/graphql"));
        async move {
            client
                .post(url)
                .json(&json!({ "query": SIGN_UP }))
                .send()
                .await
        }
    });
    // Long enough for the request to be accepted and read even on a busy machine (50 ms was not always),
    // short against the hashing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).unwrap();

    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["data"]["signUp"]["user"]["name"], "drained",
        "{body:#}"
    );
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let after = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .send()
        .await;
    assert!(after.is_err(), "new connections are refused after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grace_period_bounds_the_drain() {
    let (mut config, _cleanup) = crate::helpers::test_config(Backend::Sqlite).await;
    config.bcrypt_cost = 15; // a few seconds of hashing: longer than the grace period
    config.shutdown_grace_secs = 1;
    config.request_timeout_ms = 60_000;
    let app = board::App::build(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));
    let _slow = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("{base}/graphql"))
            .json(&json!({ "query": SIGN_UP }))
            .send()
            .await
    });
    // As above: long enough for the request to be accepted and read on a busy machine (100 ms was not
    // always: the drain then had nothing to wait for), short against the hashing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "drain took {took:?}"
    );
}
