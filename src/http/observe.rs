//! Per-request observation: the client address (from a trusted proxy header when configured) and the
//! `http.server.request.duration` histogram.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::{KeyValue, StringValue};

use super::Shared;
use crate::telemetry::metrics;

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

pub async fn observe(State(state): State<Shared>, mut request: Request, next: Next) -> Response {
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
    request.extensions_mut().insert(ClientIp(client));
    let route = route_of(&request);
    let method = method_label(request.method());
    let response = next.run(request).await;
    if let Some(m) = metrics::metrics() {
        m.http_duration.record(
            started.elapsed().as_secs_f64(),
            &[
                KeyValue::new("http.route", route),
                KeyValue::new("http.request.method", method),
                KeyValue::new(
                    "http.response.status_code",
                    i64::from(response.status().as_u16()),
                ),
            ],
        );
    }
    response
}

/// `GET /metrics`: the Prometheus text format.
pub async fn metrics_text() -> ([(axum::http::HeaderName, &'static str); 1], String) {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(),
    )
}
