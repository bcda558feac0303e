//! OpenTelemetry metrics, exported in the Prometheus text format at `GET /metrics` (or OpenMetrics, with
//! exemplars, when the scrape asks for it: [`openmetrics`]).
//!
//! Names follow the OpenTelemetry semantic conventions where one exists (`http.server.request.duration` is
//! served as `http_server_request_duration_seconds`); the rest live under `board.`. Every label value is
//! bounded: routes are templates, operation names are sanitised and capped, outcomes are error codes.

mod gauges;
mod instruments;
pub mod openmetrics;

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, UpDownCounter};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus::{Encoder, Registry, TextEncoder};

use super::operation_names::OperationNames;
pub use gauges::{PoolStats, observe_pools};

pub struct Metrics {
    pub http_duration: Histogram<f64>,
    pub graphql_duration: Histogram<f64>,
    pub graphql_operations: Counter<u64>,
    pub cache_requests: Counter<u64>,
    pub db_round_trips: Histogram<u64>,
    pub db_query_duration: Histogram<f64>,
    pub logins: Counter<u64>,
    pub token_refreshes: Counter<u64>,
    pub moderation_actions: Counter<u64>,
    pub rate_limited: Counter<u64>,
    pub limiter_fallbacks: Counter<u64>,
    pub counters_settled: Counter<u64>,
    pub cache_primary_changes: Counter<u64>,
    pub log_lines_dropped: Counter<u64>,
    pub trace_export_failures: Counter<u64>,
    pub db_reads: Counter<u64>,
    pub near_hits: Counter<u64>,
    pub sync_rounds: Counter<u64>,
    pub search_plans: Counter<u64>,
    pub moderation_removals: Counter<u64>,
    pub events_published: Counter<u64>,
    pub events_delivered: Counter<u64>,
    pub events_dropped: Counter<u64>,
    pub event_resolutions: Counter<u64>,
    pub event_round_trips: Counter<u64>,
    pub ws_connections: UpDownCounter<i64>,
    pub subscriptions: UpDownCounter<i64>,
    pub reports_open: Gauge<i64>,
    pub bans_active: Gauge<i64>,
    pub notifications_created: Counter<u64>,
    pub notification_fanout: Histogram<u64>,
    pub notification_fanout_duration: Histogram<f64>,
    pub outbox_failures: Counter<u64>,
    pub notifications_expired: Counter<u64>,
    operation_names: Mutex<OperationNames>,
}

struct Telemetry {
    registry: Registry,
    metrics: Metrics,
    meter: Meter,
    _provider: SdkMeterProvider,
}

static TELEMETRY: OnceLock<Option<Telemetry>> = OnceLock::new();

fn telemetry() -> Option<&'static Telemetry> {
    TELEMETRY.get_or_init(instruments::build).as_ref()
}
/// The instruments; `None` only when the exporter could not start (metrics are then skipped).
pub fn metrics() -> Option<&'static Metrics> {
    telemetry().map(|t| &t.metrics)
}

/// Starts the exporter (idempotent); call at start-up so `/metrics` lists every series from the first scrape.
pub fn init() {
    let _ = telemetry();
}

/// The Prometheus text exposition of every metric.
pub fn render() -> String {
    let Some(t) = telemetry() else {
        return String::new();
    };
    let mut out = Vec::new();
    if let Err(err) = TextEncoder::new().encode(&t.registry.gather(), &mut out) {
        tracing::error!(error = %err, "could not encode metrics");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The OpenMetrics text exposition of every metric, with the exemplars kept (see [`openmetrics`]).
pub fn render_openmetrics() -> String {
    match telemetry() {
        Some(t) => openmetrics::encode(&t.registry.gather()),
        None => "# EOF\n".to_owned(),
    }
}

impl Metrics {
    /// A bounded label value for an operation name that just finished: `anonymous`, the name (sanitised)
    /// while it holds a slot (see [`OperationNames`]), or `other`.
    pub fn operation_label(&self, name: Option<&str>, succeeded: bool) -> String {
        match self.operation_names.lock() {
            Ok(mut names) => names.label(name, succeeded, std::time::Instant::now()),
            Err(_) => "other".into(),
        }
    }

    pub fn cache(&self, cache: &str, result: &'static str, n: u64) {
        if n > 0 {
            self.cache_requests.add(
                n,
                &[
                    KeyValue::new("cache", cache.to_owned()),
                    KeyValue::new("result", result),
                ],
            );
        }
    }
}

/// Counts `n` lookups of `cache` with `result` (`hit`, `miss`, `error`).
pub fn cache(cache: &str, result: &'static str, n: u64) {
    if let Some(m) = metrics() {
        m.cache(cache, result, n);
    }
}

pub fn login(outcome: &'static str) {
    if let Some(m) = metrics() {
        m.logins.add(1, &[KeyValue::new("outcome", outcome)]);
    }
}

pub fn token_refresh(outcome: &'static str) {
    if let Some(m) = metrics() {
        m.token_refreshes
            .add(1, &[KeyValue::new("outcome", outcome)]);
    }
}

/// A moderation step: `category_ban`, `category_unban`, `report_opened`, `report_dismissed`,
/// `report_resolved`.
pub fn moderation(action: &'static str) {
    if let Some(m) = metrics() {
        m.moderation_actions
            .add(1, &[KeyValue::new("action", action)]);
    }
}

/// Bans in force on the whole board, as last counted.
pub fn bans_active(category: i64, board: i64) {
    if let Some(m) = metrics() {
        m.bans_active
            .record(category, &[KeyValue::new("scope", "category")]);
        m.bans_active
            .record(board, &[KeyValue::new("scope", "board")]);
    }
}

/// `n` notifications of `kind` written.
pub fn notifications_created(kind: &'static str, n: u64) {
    if let Some(m) = metrics() {
        m.notifications_created
            .add(n, &[KeyValue::new("kind", kind)]);
    }
}

/// One outbox entry fanned out: to how many members (mentions, replies and watchers), in how long.
pub fn notification_fanout(source: &'static str, recipients: u64, seconds: f64) {
    if let Some(m) = metrics() {
        let labels = [KeyValue::new("source", source)];
        m.notification_fanout.record(recipients, &labels);
        m.notification_fanout_duration.record(seconds, &labels);
    }
}

/// A fan-out that failed (`retry`: it is claimed again later; `gave_up`: after too many attempts).
pub fn outbox_failure(outcome: &'static str) {
    if let Some(m) = metrics() {
        m.outbox_failures
            .add(1, &[KeyValue::new("outcome", outcome)]);
    }
}

pub fn notifications_expired(n: u64) {
    if let Some(m) = metrics() {
        m.notifications_expired.add(n, &[]);
    }
}

/// The open reports of the whole board, as last counted.
pub fn reports_open(count: i64) {
    if let Some(m) = metrics() {
        m.reports_open.record(count, &[]);
    }
}

pub fn rate_limited(limit: &'static str) {
    if let Some(m) = metrics() {
        m.rate_limited.add(1, &[KeyValue::new("limit", limit)]);
    }
}

/// Counts an attempt against `limit` counted in this process because the shared counters failed or refused.
pub fn limiter_fallback(limit: &'static str) {
    if let Some(m) = metrics() {
        m.limiter_fallbacks.add(1, &[KeyValue::new("limit", limit)]);
    }
}

/// Counts a kept counter found apart from its rows and set to them (on Galera, see docs/galera.md).
pub fn counter_settled(counter: &'static str) {
    if let Some(m) = metrics() {
        m.counters_settled
            .add(1, &[KeyValue::new("counter", counter)]);
    }
}

/// Counts a new Redis primary met by this process (its cached values start afresh).
pub fn cache_primary_changed() {
    if let Some(m) = metrics() {
        m.cache_primary_changes.add(1, &[]);
    }
}

pub fn log_line_dropped() {
    if let Some(m) = metrics() {
        m.log_lines_dropped.add(1, &[]);
    }
}

/// Counts `spans` that a failed OTLP export lost.
pub fn trace_export_failed(spans: u64) {
    if let Some(m) = metrics() {
        m.trace_export_failures.add(spans, &[]);
    }
}

/// Counts `n` hits of `cache` answered by the near cache.
pub fn near_hits(cache: &str, n: u64) {
    if n > 0
        && let Some(m) = metrics()
    {
        m.near_hits
            .add(n, &[KeyValue::new("cache", cache.to_owned())]);
    }
}

/// Counts one sync round of the near cache: `ok` or `failed`.
pub fn sync_round(outcome: &'static str) {
    if let Some(m) = metrics() {
        m.sync_rounds.add(1, &[KeyValue::new("outcome", outcome)]);
    }
}

/// Counts one search query answered by `plan` (`walk` or `index`).
pub fn search_plan(plan: &'static str) {
    if let Some(m) = metrics() {
        m.search_plans.add(1, &[KeyValue::new("plan", plan)]);
    }
}

/// Counts one read routed to `target` (`replica`, `primary` or `fallback`).
pub fn routed_read(target: &'static str) {
    if let Some(m) = metrics() {
        m.db_reads.add(1, &[KeyValue::new("target", target)]);
    }
}

/// Counts one board event published, `ok` or `error`.
pub fn event_published(kind: &'static str, outcome: &'static str) {
    if let Some(m) = metrics() {
        m.events_published.add(
            1,
            &[
                KeyValue::new("kind", kind),
                KeyValue::new("outcome", outcome),
            ],
        );
    }
}

/// Counts one removal by a moderator of a `subject` (`post`, `comment`).
pub fn content_removed(subject: &'static str) {
    moderation_removal(subject, "remove");
}

/// Counts one restoration of removed content.
pub fn content_restored(subject: &'static str) {
    moderation_removal(subject, "restore");
}

fn moderation_removal(subject: &'static str, action: &'static str) {
    if let Some(m) = metrics() {
        m.moderation_removals.add(
            1,
            &[
                KeyValue::new("subject", subject),
                KeyValue::new("action", action),
            ],
        );
    }
}

/// Counts one event sent to a subscriber of `field`.
pub fn event_delivered(field: &'static str) {
    if let Some(m) = metrics() {
        m.events_delivered.add(1, &[KeyValue::new("field", field)]);
    }
}

/// Counts `n` deliveries lost for `reason`.
pub fn events_dropped(reason: &'static str, n: u64) {
    if let Some(m) = metrics() {
        m.events_dropped.add(n, &[KeyValue::new("reason", reason)]);
    }
}

/// Counts one event resolved for this process's subscribers, with its round trips.
pub fn event_resolved(db: u64, cache: u64) {
    if let Some(m) = metrics() {
        m.event_resolutions.add(1, &[]);
        m.event_round_trips.add(db, &[KeyValue::new("store", "db")]);
        m.event_round_trips
            .add(cache, &[KeyValue::new("store", "cache")]);
    }
}

/// A graphql-ws connection opened (+1) or closed (-1).
pub fn ws_connections(delta: i64) {
    if let Some(m) = metrics() {
        m.ws_connections.add(delta, &[]);
    }
}

/// A subscription of `field` started (+1) or ended (-1).
pub fn subscriptions(field: &'static str, delta: i64) {
    if let Some(m) = metrics() {
        m.subscriptions.add(delta, &[KeyValue::new("field", field)]);
    }
}

pub fn db_query(elapsed: Duration) {
    if let Some(m) = metrics() {
        m.db_query_duration.record(elapsed.as_secs_f64(), &[]);
    }
}
