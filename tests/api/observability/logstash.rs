//! Log shipping: one JSON line per GraphQL operation reaches a Logstash-like TCP listener with the fields an
//! operator needs (and no secrets); with the listener gone, requests still succeed and drops are counted.

use std::time::Duration;

use crate::helpers::{Backend, TestApp, own_process};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;

fn dropped(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("board_log_lines_dropped_total"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// In a process of its own: the tracing subscriber it installs is global to the process.
#[test]
fn operations_are_shipped_as_json_lines_and_dropped_when_logstash_is_down() {
    own_process::run(
        module_path!(),
        "operations_are_shipped_as_json_lines_and_dropped_when_logstash_is_down",
        || own_process::block_on(shipped_then_dropped()),
    );
}

async fn shipped_then_dropped() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    // This process's global subscriber ships to the listener (the harness then keeps it).
    board::telemetry::init_logging(board::config::LogFormat::Json, Some(&addr));
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (socket, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
        .await
        .unwrap()
        .unwrap();
    let mut lines = BufReader::new(socket).lines();

    let user = app
        .sign_up("shipped", "shipped@example.com", "secret-password-1")
        .await;
    app.ok(
        "query WhoAmI { viewer { name } }",
        json!({}),
        Some(&user.access),
    )
    .await;

    let mut seen = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen.is_none() {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(
            !line.contains("secret-password-1"),
            "a password reached the logs: {line}"
        );
        assert!(
            !line.contains(&user.access),
            "a token reached the logs: {line}"
        );
        let event: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if event["operation_name"] == "WhoAmI" {
            seen = Some(event);
        }
    }
    let event = seen.unwrap();
    for field in [
        "timestamp",
        "level",
        "request_id",
        "operation_type",
        "user",
        "client_ip",
        "duration_ms",
        "db_round_trips",
        "cache_round_trips",
        "outcome",
    ] {
        assert!(event.get(field).is_some(), "{field} missing: {event}");
    }
    assert_eq!(event["operation_type"], "query");
    assert_eq!(event["outcome"], "ok");
    assert_eq!(event["client_ip"], "127.0.0.1");
    assert_ne!(event["user"], "anonymous");

    // Logstash goes away: requests are unaffected, and lines are dropped and counted.
    drop(lines);
    drop(listener);
    let metrics_url = format!("{}/metrics", app.base);
    let before = dropped(
        &app.client()
            .get(&metrics_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        for _ in 0..10 {
            app.ok(
                "query StillUp { viewer { name } }",
                json!({}),
                Some(&user.access),
            )
            .await;
        }
        let now = dropped(
            &app.client()
                .get(&metrics_url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
        if now > before {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no dropped lines were counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
