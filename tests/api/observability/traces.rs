//! Traces: with `otlp_endpoint` set, a request's spans reach an OTLP/HTTP collector, continuing the trace its
//! `traceparent` named — a server span, a GraphQL span and round-trip spans under it — and its JSON log
//! line carries the same trace. Each variant runs in a process of its own: the subscriber is global.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::helpers::{Backend, TestApp, own_process, require_external};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

#[test]
fn sqlite() {
    own_process::run(module_path!(), "sqlite", || {
        own_process::block_on(a_traced_request_is_exported(Backend::Sqlite))
    });
}

#[test]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
fn mariadb_redis() {
    own_process::run(module_path!(), "mariadb_redis", || {
        own_process::block_on(a_traced_request_is_exported(Backend::MariaDb))
    });
}

/// A collector on a random port: every span of every `POST /v1/traces` it receives.
async fn collector() -> (String, mpsc::UnboundedReceiver<Span>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let tx = tx.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf");
                for resource in request.resource_spans {
                    for scope in resource.scope_spans {
                        for span in scope.spans {
                            let _ = tx.send(span);
                        }
                    }
                }
                ([("content-type", "application/x-protobuf")], Bytes::new())
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (endpoint, rx)
}

fn attributes(span: &Span) -> HashMap<String, Value> {
    span.attributes
        .iter()
        .filter_map(|kv| {
            let value = match kv.value.as_ref()?.value.as_ref()? {
                Any::StringValue(s) => json!(s),
                Any::IntValue(i) => json!(i),
                Any::BoolValue(b) => json!(b),
                other => json!(format!("{other:?}")),
            };
            Some((kv.key.clone(), value))
        })
        .collect()
}

async fn a_traced_request_is_exported(backend: Backend) {
    if backend == Backend::MariaDb {
        require_external();
    }
    let (endpoint, mut exported) = collector().await;
    let logs = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let logs_addr = logs.local_addr().unwrap().to_string();
    let config = board::config::Config::from(board::config::RawConfig {
        otlp_endpoint: Some(endpoint),
        ..Default::default()
    });
    // This process's subscriber: JSON lines shipped to `logs`, spans exported to the collector.
    board::telemetry::init(
        config.log.format,
        Some(&logs_addr),
        config.log.otlp_endpoint.as_deref(),
    );
    let app = TestApp::spawn(backend).await;
    let (socket, _) = tokio::time::timeout(Duration::from_secs(5), logs.accept())
        .await
        .unwrap()
        .unwrap();
    let mut lines = BufReader::new(socket).lines();

    let response = app
        .client()
        .post(format!("{}/graphql", app.base))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .header("tracestate", "vendor=opaque")
        .json(&json!({ "query": "query Traced { posts(first: 5) { edges { node { id } } } categories { id name } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");

    // Shutting the exporter down flushes what it holds.
    tokio::time::sleep(Duration::from_millis(200)).await;
    board::telemetry::traces::shutdown().await;
    let mut spans = Vec::new();
    while let Ok(span) = exported.try_recv() {
        if hex(&span.trace_id) == TRACE_ID {
            spans.push(span);
        }
    }
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();

    let server = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server as i32)
        .unwrap_or_else(|| panic!("no server span in the incoming trace: {names:?}"));
    assert_eq!(server.name, "POST /graphql");
    assert_eq!(
        hex(&server.parent_span_id),
        PARENT_ID,
        "the caller's span is the parent"
    );
    assert_eq!(server.trace_state, "vendor=opaque");
    let http = attributes(server);
    assert_eq!(http["http.request.method"], "POST");
    assert_eq!(http["http.route"], "/graphql");
    assert_eq!(http["url.path"], "/graphql");
    assert_eq!(http["http.response.status_code"], 200);
    assert_eq!(http["server.address"], "127.0.0.1");

    let graphql = spans
        .iter()
        .find(|s| attributes(s).get("graphql.operation.name") == Some(&json!("Traced")))
        .unwrap_or_else(|| panic!("no GraphQL span: {names:?}"));
    assert_eq!(graphql.name, "query Traced");
    assert_eq!(attributes(graphql)["graphql.operation.type"], "query");
    assert_eq!(graphql.parent_span_id, server.span_id);

    let system = match backend {
        Backend::Sqlite => "sqlite",
        Backend::MariaDb => "mysql",
    };
    let db: Vec<&Span> = spans
        .iter()
        .filter(|s| attributes(s).get("db.system") == Some(&json!(system)))
        .collect();
    assert!(!db.is_empty(), "no {system} span: {names:?}");
    for span in &db {
        assert_eq!(span.kind, SpanKind::Client as i32);
        assert_eq!(span.parent_span_id, graphql.span_id, "{}", span.name);
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
    }
    if backend == Backend::MariaDb {
        let redis = spans
            .iter()
            .find(|s| attributes(s).get("db.system") == Some(&json!("redis")))
            .unwrap_or_else(|| panic!("no Redis span: {names:?}"));
        assert!(attributes(redis).contains_key("db.operation.name"));
        assert_eq!(redis.parent_span_id, graphql.span_id);
    }

    // The request's log line names the same trace and the GraphQL span.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let line = loop {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .expect("the log line of the traced request")
            .unwrap()
            .unwrap();
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["operation_name"] == "Traced" {
            break event;
        }
    };
    assert_eq!(line["trace_id"], TRACE_ID, "{line}");
    assert_eq!(line["span_id"], hex(&graphql.span_id), "{line}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
