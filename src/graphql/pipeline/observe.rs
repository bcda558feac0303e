//! What each operation leaves behind: its span (OpenTelemetry GraphQL conventions) while it runs, and once
//! answered the operation metrics and one JSON log line (`board::api`) with the request's round trips and
//! trace ids.

use std::time::Duration;

use async_graphql::Response;
use opentelemetry::KeyValue;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::encode::error_codes;
use super::prepare::Prepared;
use crate::domain::UserId;
use crate::request::RequestState;
use crate::telemetry::{metrics, traces};

/// Who asked, from where, under which id.
pub(super) struct Requester<'a> {
    pub request_id: &'a str,
    pub client_ip: &'a str,
    pub viewer: Option<UserId>,
}

/// The longest operation name put into a span name; a longer one is cut (the attribute keeps it whole).
const SPAN_NAME_MAX: usize = 100;

/// The span of a request's GraphQL work: for one operation, named `{type} {name}` with the
/// `graphql.operation.*` attributes; a batch gets one span named `GraphQL batch`. The document itself is not
/// recorded: a text may carry secrets inline (a password literal), and traces are not a place for them.
pub(super) fn span(request_id: &str, prepared: &[Prepared]) -> tracing::Span {
    if !traces::exporting() {
        // Only for the log lines written inside the request (a warning names its request): its name and
        // attributes matter to a span that leaves the process.
        return tracing::info_span!("request", request_id = %request_id);
    }
    let name = match prepared {
        [one] => match one.name.as_deref() {
            Some(name) => {
                let cut = name
                    .char_indices()
                    .nth(SPAN_NAME_MAX)
                    .map_or(name, |(at, _)| &name[..at]);
                format!("{} {cut}", one.ty)
            }
            None => one.ty.to_owned(),
        },
        _ => "GraphQL batch".to_owned(),
    };
    let span = tracing::info_span!("request", request_id = %request_id, otel.name = name.as_str());
    if let [one] = prepared
        && !span.is_disabled()
    {
        span.set_attribute("graphql.operation.type", one.ty);
        if let Some(name) = &one.name {
            span.set_attribute("graphql.operation.name", name.clone());
        }
    }
    span
}

/// Records the metrics of every operation of a request and logs one line per operation.
pub(super) fn record(
    requester: &Requester<'_>,
    prepared: &[Prepared],
    responses: &[Response],
    elapsed: Duration,
    trips: &RequestState,
) {
    let user = requester
        .viewer
        .map_or_else(|| "anonymous".to_owned(), |id| id.to_string());
    let (trace_id, span_id) = trips.log_ids();
    let (trace_id, span_id) = (trace_id.as_str(), span_id.as_str());
    let metrics = metrics::metrics();
    if let Some(m) = metrics {
        m.db_round_trips.record(trips.db(), &[]);
    }
    for (p, response) in prepared.iter().zip(responses) {
        let codes = error_codes(response);
        let outcome = codes.first().cloned().unwrap_or_else(|| "ok".to_owned());
        if let Some(m) = metrics {
            let labels = [
                KeyValue::new(
                    "graphql.operation.name",
                    m.operation_label(p.name.as_deref(), codes.is_empty()),
                ),
                KeyValue::new("graphql.operation.type", p.ty),
                KeyValue::new("outcome", outcome.clone()),
            ];
            m.graphql_duration.record(elapsed.as_secs_f64(), &labels);
            m.graphql_operations.add(1, &labels);
        }
        tracing::info!(
            target: "board::api",
            request_id = %requester.request_id,
            trace_id,
            span_id,
            operation_name = p.name.as_deref().unwrap_or("anonymous"),
            operation_type = p.ty,
            user = %user,
            client_ip = %requester.client_ip,
            duration_ms = elapsed.as_micros() as f64 / 1000.0,
            db_round_trips = trips.db(),
            cache_round_trips = trips.cache(),
            outcome = %outcome,
            errors = %codes.join(","),
            "graphql operation"
        );
    }
}
