//! Traces: with `otlp_endpoint` set, a request's spans reach an OTLP/HTTP collector, continuing the trace its
//! `traceparent` named — a server span, a GraphQL span, a span per DataLoader batch and round-trip spans
//! under them — and its JSON log line carries the same trace. A write's event is handled and delivered in
//! spans linked to the write's span (the hub's, each subscription delivery, the notification fan-out). Each
//! variant runs in a process of its own: the subscriber is global.

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

use crate::helpers::ws::WsClient;
use crate::helpers::{Backend, TestApp, own_process, require_external};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";
/// The trace of the write whose event is followed.
const WRITE_TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const WRITE_PARENT_ID: &str = "b7ad6b7169203331";

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
pub(super) async fn collector() -> (String, mpsc::UnboundedReceiver<Span>) {
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

    // Two members' posts: the traced page reads both authors in one batch.
    let category = app.first_category().await;
    for name in ["traced철수", "traced영희"] {
        let member = app
            .sign_up(name, &format!("{name}@example.com"), "correct horse")
            .await;
        app.create_post(&member.access, &category, "글", "본문")
            .await;
    }
    let response = app
        .client()
        .post(format!("{}/graphql", app.base))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .header("tracestate", "vendor=opaque")
        .json(&json!({ "query": "query Traced { posts(first: 5) { edges { node { id author { name } revisions { version } } } } categories { id name } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");

    let write = a_write_and_what_it_causes(&app, &category).await;

    // Shutting the exporter down flushes what it holds.
    tokio::time::sleep(Duration::from_millis(200)).await;
    board::telemetry::traces::shutdown().await;
    let mut all = Vec::new();
    while let Ok(span) = exported.try_recv() {
        all.push(span);
    }
    let spans: Vec<Span> = all
        .iter()
        .filter(|s| hex(&s.trace_id) == TRACE_ID)
        .cloned()
        .collect();
    let names = tree(&spans);

    let server = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server as i32)
        .unwrap_or_else(|| panic!("no server span in the incoming trace: {names}"));
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
        .unwrap_or_else(|| panic!("no GraphQL span: {names}"));
    assert_eq!(graphql.name, "query Traced");
    assert_eq!(attributes(graphql)["graphql.operation.type"], "query");
    assert_eq!(graphql.parent_span_id, server.span_id);

    // One span per DataLoader batch, under the GraphQL span: both authors in one `load User`.
    let batches: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name.starts_with("load "))
        .collect();
    for batch in &batches {
        assert_eq!(batch.parent_span_id, graphql.span_id, "{names}");
        assert_eq!(batch.kind, SpanKind::Internal as i32);
        assert!(batch.end_time_unix_nano >= batch.start_time_unix_nano);
    }
    let users = batches
        .iter()
        .find(|s| s.name == "load User")
        .unwrap_or_else(|| panic!("no `load User` batch: {names}"));
    assert_eq!(attributes(users)["board.loader.name"], "User");
    assert_eq!(attributes(users)["board.loader.batch_size"], 2, "{names}");
    let revisions = batches
        .iter()
        .find(|s| s.name == "load PostRevisions")
        .unwrap_or_else(|| panic!("no `load PostRevisions` batch: {names}"));
    assert_eq!(
        attributes(revisions)["board.loader.batch_size"],
        2,
        "{names}"
    );

    // Every round trip hangs off the GraphQL span or off the batch that made it; the revisions (not read
    // before) were read from the database inside their batch.
    let system = match backend {
        Backend::Sqlite => "sqlite",
        Backend::MariaDb => "mysql",
    };
    let db: Vec<&Span> = spans
        .iter()
        .filter(|s| attributes(s).get("db.system") == Some(&json!(system)))
        .collect();
    assert!(!db.is_empty(), "no {system} span: {names}");
    let under_graphql_or_a_batch = |span: &Span| {
        span.parent_span_id == graphql.span_id
            || batches.iter().any(|b| b.span_id == span.parent_span_id)
    };
    for span in &db {
        assert_eq!(span.kind, SpanKind::Client as i32);
        assert!(under_graphql_or_a_batch(span), "{}: {names}", span.name);
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
    }
    assert!(
        db.iter().any(|s| s.parent_span_id == revisions.span_id),
        "no database round trip under `load PostRevisions`: {names}"
    );
    if backend == Backend::MariaDb {
        let redis: Vec<&Span> = spans
            .iter()
            .filter(|s| attributes(s).get("db.system") == Some(&json!("redis")))
            .collect();
        assert!(!redis.is_empty(), "no Redis span: {names}");
        for span in &redis {
            assert!(attributes(span).contains_key("db.operation.name"));
            assert!(under_graphql_or_a_batch(span), "{}: {names}", span.name);
        }
        assert!(
            redis.iter().any(|s| s.parent_span_id == revisions.span_id),
            "the batch asks Redis first: {names}"
        );
    }

    write.assert_linked(&all, backend);

    // Its info log line is not copied into the trace as a span event (the line names the trace instead).
    assert!(
        spans
            .iter()
            .all(|s| s.events.iter().all(|e| e.name != "graphql operation")),
        "an info line became a span event"
    );

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

/// The spans as an indented tree (children under their parent), for failure messages.
fn tree(spans: &[Span]) -> String {
    fn walk(spans: &[Span], parent: &[u8], depth: usize, out: &mut String) {
        for span in spans.iter().filter(|s| s.parent_span_id == parent) {
            out.push_str(&format!(
                "\n{}{} ({})",
                "  ".repeat(depth),
                span.name,
                hex(&span.span_id)
            ));
            walk(spans, &span.span_id, depth + 1, out);
        }
    }
    let mut out = String::new();
    let roots = spans
        .iter()
        .filter(|s| !spans.iter().any(|p| p.span_id == s.parent_span_id));
    for root in roots {
        out.push_str(&format!(
            "\n{} ({}) under {}",
            root.name,
            hex(&root.span_id),
            hex(&root.parent_span_id)
        ));
        walk(spans, &root.span_id, 1, &mut out);
    }
    out
}

/// Whether `span` links to the span `trace_id`/`span_id`.
fn links_to(span: &Span, trace_id: &str, span_id: &str) -> bool {
    span.links
        .iter()
        .any(|l| hex(&l.trace_id) == trace_id && hex(&l.span_id) == span_id)
}

/// A member watching a category listens for new posts and for their notifications; another member writes
/// a post there, traced.
struct Write;

async fn a_write_and_what_it_causes(app: &TestApp, category: &str) -> Write {
    let watcher = app
        .sign_up("watcher민수", "watcher@example.com", "correct horse")
        .await;
    app.ok(
        "mutation($id: ID!) { watchCategory(input: { categoryId: $id, watching: true }) { category { id } } }",
        json!({ "id": category }),
        Some(&watcher.access),
    )
    .await;
    let writer = app
        .sign_up("writer지수", "writer@example.com", "correct horse")
        .await;
    let mut socket = WsClient::ready(&app.base, Some(&watcher.access)).await;
    socket
        .listen(
            "posts",
            "subscription NewPosts { postAdded { id title author { name } } }",
            json!({}),
        )
        .await;
    socket
        .listen(
            "inbox",
            "subscription Inbox { notificationAdded { kind } }",
            json!({}),
        )
        .await;
    let response = app
        .client()
        .post(format!("{}/graphql", app.base))
        .header("traceparent", format!("00-{WRITE_TRACE_ID}-{WRITE_PARENT_ID}-01"))
        .bearer_auth(&writer.access)
        .json(&json!({
            "query": "mutation Write($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
            "variables": { "i": { "categoryId": category, "title": "연결 linked", "content": "본문" } },
        }))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    // Both deliveries were queued (their spans end then).
    let mut heard = Vec::new();
    for _ in 0..2 {
        match socket.hear().await {
            crate::helpers::ws::Heard::Message(m) if m["type"] == "next" => {
                heard.push(m["id"].as_str().unwrap().to_owned())
            }
            other => panic!("expected a `next`, heard {other:?}"),
        }
    }
    heard.sort();
    assert_eq!(heard, ["inbox", "posts"]);
    Write
}

impl Write {
    /// The hub's span of the event, each delivery and the fan-out link to the mutation's GraphQL span; each
    /// delivery is a child of the hub's span and its reads are under it.
    fn assert_linked(&self, all: &[Span], backend: Backend) {
        let everything = tree(all);
        let mutation = all
            .iter()
            .find(|s| hex(&s.trace_id) == WRITE_TRACE_ID && s.name == "mutation Write")
            .unwrap_or_else(|| panic!("no span of the write: {everything}"));
        let write_span = hex(&mutation.span_id);
        let find = |name: &str| -> Vec<&Span> { all.iter().filter(|s| s.name == name).collect() };

        let hub = find("process post_created");
        let [hub] = hub.as_slice() else {
            panic!("one hub span of the post's event: {everything}");
        };
        assert!(links_to(hub, WRITE_TRACE_ID, &write_span), "{everything}");
        assert_eq!(hub.kind, SpanKind::Consumer as i32);
        assert_ne!(
            hex(&hub.trace_id),
            WRITE_TRACE_ID,
            "a trace of its own, linked"
        );

        let delivery = find("deliver postAdded");
        let [delivery] = delivery.as_slice() else {
            panic!("one delivery of postAdded: {everything}");
        };
        assert!(
            links_to(delivery, WRITE_TRACE_ID, &write_span),
            "{everything}"
        );
        assert_eq!(delivery.parent_span_id, hub.span_id, "{everything}");
        assert_eq!(delivery.trace_id, hub.trace_id);
        assert_eq!(attributes(delivery)["graphql.operation.name"], "NewPosts");
        assert_eq!(
            attributes(delivery)["board.subscription.field"],
            "postAdded"
        );
        // The delivery's own reads (the author of the post) are its children.
        let under_delivery = all
            .iter()
            .filter(|s| s.parent_span_id == delivery.span_id)
            .count();
        assert!(
            under_delivery > 0,
            "the delivery read nothing traced: {everything}"
        );

        // The watcher's notification: the fan-out (its direct part, then its watchers') and the delivery
        // link to the write too.
        let fanout: Vec<&Span> = find("fan-out post")
            .into_iter()
            .filter(|s| links_to(s, WRITE_TRACE_ID, &write_span))
            .collect();
        assert_eq!(
            fanout.len(),
            2,
            "the write's two fan-out stages: {everything}"
        );
        let system = match backend {
            Backend::Sqlite => "sqlite",
            Backend::MariaDb => "mysql",
        };
        assert!(
            all.iter()
                .any(|s| fanout.iter().any(|f| f.span_id == s.parent_span_id)
                    && attributes(s).get("db.system") == Some(&json!(system))),
            "the fan-out's statements are under it: {everything}"
        );
        let notified = find("deliver notificationAdded");
        let [notified] = notified.as_slice() else {
            panic!("one delivery of notificationAdded: {everything}");
        };
        assert!(
            links_to(notified, WRITE_TRACE_ID, &write_span),
            "{everything}"
        );
        let hub = find("process notifications_added");
        assert!(
            hub.iter().any(|h| h.span_id == notified.parent_span_id
                && links_to(h, WRITE_TRACE_ID, &write_span)),
            "{everything}"
        );
    }
}
