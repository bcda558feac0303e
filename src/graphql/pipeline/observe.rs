//! What each operation leaves behind once answered: the operation metrics and one JSON log line
//! (`board::api`), with the request's round trips.

use std::time::Duration;

use async_graphql::Response;
use opentelemetry::KeyValue;

use super::encode::error_codes;
use super::prepare::Prepared;
use crate::domain::UserId;
use crate::request::RequestState;
use crate::telemetry::metrics;

/// Who asked, from where, under which id.
pub(super) struct Requester<'a> {
    pub request_id: &'a str,
    pub client_ip: &'a str,
    pub viewer: Option<UserId>,
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
