//! Connections an outside client can hold: slow and silent sockets are closed, the server's connection
//! slots are capped in all and per client address. Every scenario runs on SQLite and, with
//! `--include-ignored` and TEST_* set, on MariaDB + Redis.

use std::time::Duration;

use crate::helpers::TestApp;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

configured_tests!(
    slow_and_idle_clients_are_disconnected => |c: &mut board::config::RawConfig| {
        c.header_read_timeout_ms = 300;
        c.body_read_timeout_ms = 300;
        c.idle_timeout_ms = 300;
    },
    connections_beyond_the_cap_wait => |c: &mut board::config::RawConfig| {
        c.max_connections = 1;
    },
    one_address_cannot_take_every_connection => |c: &mut board::config::RawConfig| {
        c.max_connections_per_client = 3;
    },
);

/// The address of the test server, for raw sockets.
fn address(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; what it sent. Fails if the server keeps it open for a
/// minute (it used to keep such connections forever).
async fn until_closed(stream: &mut tokio::net::TcpStream) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        let mut buf = [0_u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&got).into_owned()
}

/// Row 5: a header without its blank line, a body shorter than announced, and a silent kept-alive
/// connection are all closed by the server.
async fn slow_and_idle_clients_are_disconnected(app: TestApp) {
    let addr = address(&app);
    let mut partial_header = tokio::net::TcpStream::connect(&addr).await.unwrap();
    partial_header
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: board\r\nContent-Type: application/json\r\n")
        .await
        .unwrap();
    until_closed(&mut partial_header).await;

    let mut short_body = tokio::net::TcpStream::connect(&addr).await.unwrap();
    short_body
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: board\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\":")
        .await
        .unwrap();
    let answer = until_closed(&mut short_body).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );

    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    until_closed(&mut silent).await;

    // A client that sends its request in time is served as before.
    app.ok("{ __typename }", json!({}), None).await;
}

/// Row 5: with a cap of one connection, a second client is served once the first one leaves.
async fn connections_beyond_the_cap_wait(app: TestApp) {
    let addr = address(&app);
    let mut holder = tokio::net::TcpStream::connect(&addr).await.unwrap();
    holder
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: board\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0_u8; 1024];
    let n = holder.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // The holder keeps its connection alive; the next client waits for its slot.
    let waiting = tokio::spawn({
        let url = format!("{}/healthz", app.base);
        async move { reqwest::get(url).await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "a second connection was served beyond the cap"
    );
    drop(holder);
    let status = tokio::time::timeout(Duration::from_secs(60), waiting)
        .await
        .expect("the waiting client was never served")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
}

/// Row 5, per address: with a cap of 3 connections per client address, 40 held sockets from one address
/// leave it 3 connections; the others are closed at once, and the address is served again once its own
/// connections close.
async fn one_address_cannot_take_every_connection(app: TestApp) {
    let addr = address(&app);
    let mut held = Vec::new();
    for _ in 0..40 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    // Every socket asks for /healthz; the first three are answered, the rest were closed unanswered.
    let mut answered = 0;
    for socket in &mut held {
        let _ = socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: board\r\n\r\n")
            .await;
        let mut buf = [0_u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf))
            .await
            .expect("a socket beyond the cap was neither closed nor answered");
        if let Ok(n) = read
            && String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200")
        {
            answered += 1;
        }
    }
    assert_eq!(answered, 3, "one address got more than its connections");
    drop(held);
    // Its own connections gone, the address is served again.
    let mut served = false;
    for _ in 0..50 {
        if reqwest::get(format!("{}/healthz", app.base)).await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "the address was never served again");
    app.ok("{ __typename }", json!({}), None).await;
}
