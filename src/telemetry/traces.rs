//! Traces: `tracing` spans become OpenTelemetry spans (through `tracing-opentelemetry`), a request's W3C
//! `traceparent` is continued, and with `otlp_endpoint` set they leave in batches over OTLP/HTTP. Database
//! and Redis round trips are spans built from their guards when they end. What is exported and how:
//! docs/traces.md.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    Link, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{Bytes, HeaderExtractor, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider, SpanData, SpanExporter,
};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::metrics;
use crate::domain::TraceParent;

/// The exporting provider, kept to flush it on shutdown.
static EXPORTING: OnceLock<SdkTracerProvider> = OnceLock::new();
/// The tracer of round-trip spans: set only while spans are exported (otherwise they are not built).
static ROUND_TRIPS: OnceLock<SdkTracer> = OnceLock::new();

/// Spans waiting for export beyond this many are dropped: a collector that is slow or gone costs memory
/// once, never a request's time.
const MAX_QUEUED_SPANS: usize = 4096;
/// One export call waits at most this long for the collector.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// A collector's answer is read up to this size (it is only checked for success).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The tracer the `tracing` layer turns spans into OpenTelemetry spans with, when they leave the process
/// (an `endpoint` whose exporter started); `None` otherwise: spans then get no OpenTelemetry ids, and log
/// lines carry their request's own (`RequestState::log_ids`). Call inside the Tokio runtime: the exporter
/// sends its batches on it.
pub(super) fn tracer(endpoint: Option<&str>) -> Option<SdkTracer> {
    let resource = Resource::builder()
        .with_service_name("board")
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    let mut exporting = false;
    if let Some(endpoint) = endpoint {
        match exporter(endpoint) {
            Ok(exporter) => {
                let batches = BatchConfigBuilder::default()
                    .with_max_queue_size(MAX_QUEUED_SPANS)
                    .build();
                let processor = BatchSpanProcessor::builder(exporter)
                    .with_batch_config(batches)
                    .build();
                builder = builder.with_span_processor(processor);
                exporting = true;
            }
            // The subscriber is not installed yet: say it where start-up errors go.
            Err(err) => eprintln!("traces are not exported: {err}"),
        }
    }
    if !exporting {
        return None;
    }
    let provider = builder.build();
    let tracer = provider.tracer("board");
    let _ = ROUND_TRIPS.set(tracer.clone());
    let _ = EXPORTING.set(provider);
    Some(tracer)
}

fn exporter(endpoint: &str) -> Result<Counted<opentelemetry_otlp::SpanExporter>, String> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| "no Tokio runtime to send spans on".to_owned())?;
    let client = RuntimeClient {
        client: Client::builder(TokioExecutor::new()).build_http(),
        runtime,
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(traces_url(endpoint))
        .with_timeout(EXPORT_TIMEOUT)
        .with_http_client(client)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Counted {
        inner: exporter,
        failing: AtomicBool::new(false),
    })
}

/// The collector's traces URL: `otlp_endpoint` is the collector's base URL (as `OTEL_EXPORTER_OTLP_ENDPOINT`),
/// or already the full `/v1/traces` URL.
fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    }
}

/// Flushes the spans still queued and stops exporting (waits at most a few seconds). Call once, at shutdown.
pub async fn shutdown() {
    let Some(provider) = EXPORTING.get().cloned() else {
        return;
    };
    let flushed = tokio::task::spawn_blocking(move || provider.shutdown());
    if tokio::time::timeout(EXPORT_TIMEOUT * 2, flushed)
        .await
        .is_err()
    {
        tracing::warn!("trace export did not finish before shutdown");
    }
}

/// The W3C trace context (`traceparent`, `tracestate`) a request came with; an empty context without one
/// (or with a malformed one: the request then starts a trace of its own).
pub fn remote_parent(headers: &axum::http::HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// The trace id of the W3C trace context a request came with, if it came with a valid one.
pub fn remote_trace_id(headers: &axum::http::HeaderMap) -> Option<u128> {
    headers.get("traceparent")?;
    let parent = remote_parent(headers);
    let ids = parent.span().span_context().clone();
    ids.is_valid()
        .then(|| u128::from_be_bytes(ids.trace_id().to_bytes()))
}

/// Makes `span` a child of the trace a request came with, if it came with one.
pub fn continue_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    let parent = remote_parent(headers);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// The trace id and span id of `span` in hex, for log lines; `None` without tracing (no subscriber with
/// the OpenTelemetry layer).
pub fn ids(span: &tracing::Span) -> Option<(String, String)> {
    let context = span.context();
    let span = context.span();
    let ids = span.span_context();
    ids.is_valid()
        .then(|| (ids.trace_id().to_string(), ids.span_id().to_string()))
}

/// Whether spans leave this process (an `otlp_endpoint` is set and its exporter started). Without it the
/// spans built with the OpenTelemetry API here (round trips, loader batches, events) are not built at all.
pub fn exporting() -> bool {
    ROUND_TRIPS.get().is_some()
}

/// The `traceparent` of the span `context` holds, for an event to carry: `None` unless spans are exported
/// and that span is sampled (a link to a span nobody keeps leads nowhere).
pub fn trace_parent(context: &Context) -> Option<TraceParent> {
    if !exporting() {
        return None;
    }
    let span = context.span();
    let ids = span.span_context();
    (ids.is_valid() && ids.is_sampled()).then(|| TraceParent {
        trace_id: u128::from_be_bytes(ids.trace_id().to_bytes()),
        span_id: u64::from_be_bytes(ids.span_id().to_bytes()),
        sampled: true,
    })
}

/// The span a `traceparent` names, as a link's target (or a parent).
fn span_context(cause: TraceParent) -> SpanContext {
    let flags = if cause.sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    SpanContext::new(
        TraceId::from(cause.trace_id),
        SpanId::from(cause.span_id),
        flags,
        true,
        TraceState::default(),
    )
}

/// A span of work built with the OpenTelemetry API while it runs, for as long as the returned context is
/// kept (or until [`end`]): a DataLoader batch, the hub's handling of an event, a subscription delivery, a
/// fan-out. Work done inside it names it as the parent of its round trips.
fn work_span(
    name: impl Into<Cow<'static, str>>,
    kind: SpanKind,
    parent: &Context,
    cause: Option<TraceParent>,
    attributes: Vec<KeyValue>,
) -> Option<Context> {
    let tracer = ROUND_TRIPS.get()?;
    let mut builder = tracer
        .span_builder(name)
        .with_kind(kind)
        .with_attributes(attributes);
    if let Some(cause) = cause {
        builder = builder.with_links(vec![Link::with_context(span_context(cause))]);
    }
    let span = builder.start_with_context(tracer, parent);
    Some(parent.with_span(span))
}

/// Ends the span `context` holds (its end time is now).
pub fn end(context: &Context) {
    context.span().end();
}

/// The span of one DataLoader batch (`load <Loader>`, with the number of keys), a child of `parent` (the
/// request's span, or the event it is delivering); its round trips become its children. `None` unless
/// spans are exported and the request is sampled.
pub fn loader_batch(
    loader: &'static str,
    keys: usize,
    parent: impl FnOnce() -> Context,
) -> Option<Context> {
    if !exporting() {
        return None;
    }
    let parent = parent();
    if !parent.span().span_context().is_sampled() {
        return None;
    }
    work_span(
        format!("load {loader}"),
        SpanKind::Internal,
        &parent,
        None,
        vec![
            KeyValue::new("board.loader.name", loader),
            KeyValue::new("board.loader.batch_size", keys as i64),
        ],
    )
}

/// The span of the hub's handling of one event (`process <kind>`: reading what it is about once for every
/// subscriber of this process), a trace of its own linked to the write that caused the event.
pub fn event_span(kind: &'static str, cause: Option<TraceParent>) -> Option<Context> {
    work_span(
        format!("process {kind}"),
        SpanKind::Consumer,
        &Context::new(),
        cause,
        vec![
            KeyValue::new("messaging.operation.type", "process"),
            KeyValue::new("board.event.kind", kind),
        ],
    )
}

/// The span of one subscription delivery (`deliver <field>`: the event's selection resolved for one
/// subscriber and handed to its socket), a child of the hub's span of the event, linked to the write.
pub fn delivery_span(
    field: &'static str,
    operation: Option<&str>,
    event: Option<&SpanContext>,
    cause: Option<TraceParent>,
) -> Option<Context> {
    if !exporting() {
        return None;
    }
    let parent = match event {
        Some(event) => Context::new().with_remote_span_context(event.clone()),
        None => Context::new(),
    };
    let mut attributes = vec![
        KeyValue::new("graphql.operation.type", "subscription"),
        KeyValue::new("board.subscription.field", field),
    ];
    if let Some(name) = operation {
        attributes.push(KeyValue::new("graphql.operation.name", name.to_owned()));
    }
    work_span(
        format!("deliver {field}"),
        SpanKind::Producer,
        &parent,
        cause,
        attributes,
    )
}

/// The span of one outbox entry's fan-out (`fan-out <source>`), a trace of its own linked to the write.
pub fn fanout_span(source: &'static str, cause: Option<TraceParent>) -> Option<Context> {
    work_span(
        format!("fan-out {source}"),
        SpanKind::Internal,
        &Context::new(),
        cause,
        vec![KeyValue::new("board.notification.source", source)],
    )
}

/// The trace id and span id of `span` in hex when it is exported (sampled, with an endpoint): what an
/// exemplar may point at.
pub fn exported_ids(span: &tracing::Span) -> Option<(String, String)> {
    if !exporting() {
        return None;
    }
    let context = span.context();
    let span = context.span();
    let ids = span.span_context();
    (ids.is_valid() && ids.is_sampled())
        .then(|| (ids.trace_id().to_string(), ids.span_id().to_string()))
}

/// The database system this process talks to, for round-trip spans (`db.system`, `db.system.name`).
static DATABASE: AtomicU8 = AtomicU8::new(0);

/// Names the database of this process's pools (one per process: `mariadb` or `sqlite`).
pub fn set_database(dialect: &str) {
    DATABASE.store(u8::from(dialect == "sqlite") + 1, Ordering::Relaxed);
}

fn database() -> Option<(&'static str, &'static str)> {
    match DATABASE.load(Ordering::Relaxed) {
        1 => Some(("mysql", "mariadb")),
        2 => Some(("sqlite", "sqlite")),
        _ => None,
    }
}

/// One round trip to the database or Redis being timed for a span; built only while spans are exported
/// and the request's trace is sampled.
pub struct RoundTrip {
    parent: Context,
    started: SystemTime,
}

impl RoundTrip {
    /// A round trip beginning now under `parent` (the span of the request it serves, or of the part of it
    /// that runs now), asked for only while spans are exported.
    pub fn begin(parent: impl FnOnce() -> Context) -> Option<Self> {
        ROUND_TRIPS.get()?;
        let parent = parent();
        parent.span().span_context().is_sampled().then(|| Self {
            parent,
            started: SystemTime::now(),
        })
    }

    /// Ends a database round trip: a client span named after the database (or the query summary given).
    pub fn end_db(self, at: &'static std::panic::Location<'static>, summary: Option<&'static str>) {
        let mut attributes = vec![
            KeyValue::new("code.file.path", at.file()),
            KeyValue::new("code.line.number", i64::from(at.line())),
        ];
        let (system, system_name) = database().unwrap_or(("other_sql", "other_sql"));
        attributes.push(KeyValue::new("db.system", system));
        attributes.push(KeyValue::new("db.system.name", system_name));
        let name: Cow<'static, str> = match summary {
            Some(summary) => {
                attributes.push(KeyValue::new("db.query.summary", summary));
                if let Some((operation, _)) = summary.split_once(' ') {
                    attributes.push(KeyValue::new("db.operation.name", operation));
                }
                summary.into()
            }
            None => system_name.into(),
        };
        self.end(name, attributes);
    }

    /// Ends a Redis round trip of `command` (`GET`, `EVALSHA`, a `pipeline` of several…).
    pub fn end_redis(self, command: &'static str, failed: bool) {
        let mut attributes = vec![
            KeyValue::new("db.system", "redis"),
            KeyValue::new("db.system.name", "redis"),
            KeyValue::new("db.operation.name", command),
        ];
        if failed {
            attributes.push(KeyValue::new("error.type", "redis_error"));
        }
        self.end(command.into(), attributes);
    }

    fn end(self, name: Cow<'static, str>, attributes: Vec<KeyValue>) {
        let Some(tracer) = ROUND_TRIPS.get() else {
            return;
        };
        let mut span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .with_start_time(self.started)
            .with_attributes(attributes)
            .start_with_context(tracer, &self.parent);
        opentelemetry::trace::Span::end(&mut span);
    }
}

/// The OTLP exporter, counting the spans a failed export loses and logging once per outage (when export
/// starts failing, and when it recovers).
struct Counted<E> {
    inner: E,
    failing: AtomicBool,
}

impl<E> fmt::Debug for Counted<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Counted")
    }
}

impl<E: SpanExporter> SpanExporter for Counted<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len() as u64;
        let result = self.inner.export(batch).await;
        match &result {
            Err(err) => {
                metrics::trace_export_failed(spans);
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %err, "trace export failed; lost spans are counted until it recovers");
                }
            }
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("trace export recovered");
                }
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// hyper's client, driven on the server's Tokio runtime: the batch processor exports from a thread of its
/// own, where no runtime is entered.
struct RuntimeClient {
    client: Client<HttpConnector, Full<Bytes>>,
    runtime: tokio::runtime::Handle,
}

impl fmt::Debug for RuntimeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RuntimeClient")
    }
}

#[async_trait]
impl HttpClient for RuntimeClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let sent = async move {
            let (parts, body) = request.into_parts();
            let response = client
                .request(Request::from_parts(parts, Full::new(body)))
                .await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await?
                .to_bytes();
            Ok::<_, HttpError>(Response::from_parts(parts, body))
        };
        let bounded = async move {
            tokio::time::timeout(EXPORT_TIMEOUT, sent)
                .await
                .map_err(|_| HttpError::from("the collector did not answer in time"))?
        };
        self.runtime.spawn(bounded).await?
    }
}

#[cfg(test)]
mod tests;
