//! Per-request observation: the client address (from a trusted proxy header when configured), the
//! `http.server.request.duration` histogram (with the request's trace as an exemplar when it is exported)
//! and the request's server span (continuing its `traceparent`).

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::Method;
use axum::http::header::{HOST, USER_AGENT};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::trace::Status;
use opentelemetry::{KeyValue, StringValue};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::SharedState;
use crate::telemetry::{metrics, traces};

/// The client's address as far as it can be trusted.
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

/// A bounded route label: the template of the route that matched (axum's [`MatchedPath`]), never the raw
/// path; `other` for a request no route matched.
fn route_of(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |path| path.as_str().to_owned())
}

/// The method as a label; the standard ones without an allocation (the route label takes one).
fn method_label(method: &Method) -> StringValue {
    let standard = [
        Method::GET,
        Method::POST,
        Method::HEAD,
        Method::OPTIONS,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
    ];
    const NAMES: [&str; 7] = ["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"];
    match standard.iter().position(|m| m == method) {
        Some(i) => StringValue::from(NAMES[i]),
        None => StringValue::from(method.as_str().to_owned()),
    }
}

pub async fn observe(
    State(state): State<SharedState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    // Behind a proxy, its header names the client: the left-most address is the original one.
    let forwarded = state.http.client_ip_header.as_deref().and_then(|header| {
        request
            .headers()
            .get(header)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty() && v.len() <= 64)
    });
    let client = forwarded.or(peer).unwrap_or_else(|| "unknown".to_owned());
    let route = route_of(&request);
    let method = method_label(request.method());
    let span = server_span(&request, &route, &method, &client);
    request.extensions_mut().insert(ClientIp(client));
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.set_attribute("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.set_attribute("error.type", status.as_str().to_owned());
        span.set_status(Status::error(""));
    }
    let seconds = started.elapsed().as_secs_f64();
    if let Some((trace_id, span_id)) = traces::exported_ids(&span) {
        metrics::openmetrics::http_request(
            &route,
            method.as_str(),
            status.as_u16(),
            seconds,
            trace_id,
            span_id,
        );
    }
    if let Some(m) = metrics::metrics() {
        m.http_duration.record(
            seconds,
            &[
                KeyValue::new("http.route", route),
                KeyValue::new("http.request.method", method),
                KeyValue::new("http.response.status_code", i64::from(status.as_u16())),
            ],
        );
    }
    response
}

/// The request's server span, named and described by the OpenTelemetry HTTP conventions, a child of the
/// trace the request came with (`traceparent`), if any.
fn server_span(
    request: &Request,
    route: &str,
    method: &StringValue,
    client: &str,
) -> tracing::Span {
    // It matters only to a span that leaves the process: log lines carry the request's id from the
    // GraphQL span, and building this one cost as much as the rest of a warm read's logging.
    if !traces::exporting() {
        return tracing::Span::none();
    }
    let name = if route == "other" {
        method.as_str().to_owned()
    } else {
        format!("{} {route}", method.as_str())
    };
    let span = tracing::info_span!("http", otel.name = name.as_str(), otel.kind = "server");
    if span.is_disabled() {
        return span;
    }
    traces::continue_trace(&span, request.headers());
    span.set_attribute("http.request.method", method.clone());
    span.set_attribute("url.path", request.uri().path().to_owned());
    span.set_attribute("url.scheme", "http");
    if route != "other" {
        span.set_attribute("http.route", route.to_owned());
    }
    let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(host) = header(HOST).and_then(|h| h.parse::<axum::http::uri::Authority>().ok()) {
        span.set_attribute("server.address", host.host().to_owned());
        if let Some(port) = host.port_u16() {
            span.set_attribute("server.port", i64::from(port));
        }
    }
    if let Some(agent) = header(USER_AGENT) {
        span.set_attribute("user_agent.original", agent.to_owned());
    }
    span.set_attribute("client.address", client.to_owned());
    span.set_attribute("network.protocol.version", version_of(request.version()));
    span
}

fn version_of(version: axum::http::Version) -> &'static str {
    match version {
        axum::http::Version::HTTP_10 => "1.0",
        axum::http::Version::HTTP_2 => "2",
        axum::http::Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// `GET /metrics`: the Prometheus text format, or OpenMetrics (with exemplars) when `Accept` prefers it.
pub async fn metrics_text(
    headers: axum::http::HeaderMap,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if metrics::openmetrics::wanted(accept) {
        return (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            metrics::render_openmetrics(),
        );
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(),
    )
}
