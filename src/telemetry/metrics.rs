//! OpenTelemetry metrics, exported in the Prometheus text format at `GET /metrics`.
//!
//! Names follow the OpenTelemetry semantic conventions where one exists (`http.server.request.duration` is
//! served as `http_server_request_duration_seconds`); the rest live under `board.`. Every label value is
//! bounded: routes are templates, operation names are sanitised and capped, outcomes are error codes.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider, UpDownCounter};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus::{Encoder, Registry, TextEncoder};

use super::operation_names::OperationNames;

pub struct Metrics {
    pub http_duration: Histogram<f64>,
    pub graphql_duration: Histogram<f64>,
    pub graphql_operations: Counter<u64>,
    pub cache_requests: Counter<u64>,
    pub db_round_trips: Histogram<u64>,
    pub db_query_duration: Histogram<f64>,
    pub logins: Counter<u64>,
    pub token_refreshes: Counter<u64>,
    pub rate_limited: Counter<u64>,
    pub log_lines_dropped: Counter<u64>,
    pub db_reads: Counter<u64>,
    pub near_hits: Counter<u64>,
    pub sync_rounds: Counter<u64>,
    pub search_plans: Counter<u64>,
    pub events_published: Counter<u64>,
    pub events_delivered: Counter<u64>,
    pub events_dropped: Counter<u64>,
    pub event_resolutions: Counter<u64>,
    pub event_round_trips: Counter<u64>,
    pub ws_connections: UpDownCounter<i64>,
    pub subscriptions: UpDownCounter<i64>,
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
    TELEMETRY.get_or_init(build).as_ref()
}

const SECONDS_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn build() -> Option<Telemetry> {
    let registry = Registry::new();
    let exporter = match opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .without_target_info()
        .build()
    {
        Ok(exporter) => exporter,
        Err(err) => {
            tracing::error!(error = %err, "metrics are disabled: the Prometheus exporter did not start");
            return None;
        }
    };
    let provider = SdkMeterProvider::builder().with_reader(exporter).build();
    let meter = provider.meter("board");
    let seconds = |name: &'static str, description: &'static str| {
        meter
            .f64_histogram(name)
            .with_unit("s")
            .with_description(description)
            .with_boundaries(SECONDS_BUCKETS.to_vec())
            .build()
    };
    let metrics = Metrics {
        http_duration: seconds(
            "http.server.request.duration",
            "Duration of HTTP server requests.",
        ),
        graphql_duration: seconds(
            "board.graphql.operation.duration",
            "Duration of GraphQL operations.",
        ),
        graphql_operations: meter
            .u64_counter("board.graphql.operations")
            .with_description("GraphQL operations by name, type and outcome (ok or an error code).")
            .build(),
        cache_requests: meter
            .u64_counter("board.cache.requests")
            .with_description("Cache lookups by cache and result (hit, miss, error).")
            .build(),
        db_round_trips: meter
            .u64_histogram("board.db.round_trips")
            .with_description("Database round trips per GraphQL request.")
            .with_boundaries(vec![
                0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0, 15.0, 20.0, 50.0,
            ])
            .build(),
        db_query_duration: seconds(
            "board.db.query.duration",
            "Duration of database round trips.",
        ),
        logins: meter
            .u64_counter("board.auth.logins")
            .with_description("Login attempts by outcome.")
            .build(),
        token_refreshes: meter
            .u64_counter("board.auth.token_refreshes")
            .with_description("Refresh-token rotations by outcome.")
            .build(),
        rate_limited: meter
            .u64_counter("board.rate_limited")
            .with_description("Requests refused by a rate limit, by limit.")
            .build(),
        log_lines_dropped: meter
            .u64_counter("board.log.lines_dropped")
            .with_description(
                "Log lines not shipped (the shipping buffer was full or the sink unreachable).",
            )
            .build(),
        db_reads: meter
            .u64_counter("board.db.routed_reads")
            .with_description(
                "Reads that could use the read replica, by where they went (replica, primary, fallback: \
                 the replica failed and the primary answered).",
            )
            .build(),
        near_hits: meter
            .u64_counter("board.cache.near_hits")
            .with_description(
                "Cache hits answered by the in-process near cache, by cache (also counted as hits in \
                 board_cache_requests_total).",
            )
            .build(),
        sync_rounds: meter
            .u64_counter("board.cache.sync_rounds")
            .with_description(
                "Sync rounds of the near cache (a marker published and heard back), by outcome; each serves \
                 every request that was waiting for it.",
            )
            .build(),
        search_plans: meter
            .u64_counter("board.search.plans")
            .with_description(
                "Search queries (pages and counts) by plan: walk (the list's order, filtered) or index (the \
                 full-text index's candidates, filtered).",
            )
            .build(),
        events_published: meter
            .u64_counter("board.events.published")
            .with_description("Board events published after a commit, by kind and outcome (ok, error).")
            .build(),
        events_delivered: meter
            .u64_counter("board.subscriptions.delivered")
            .with_description("Subscription events sent to a client, by subscription field.")
            .build(),
        events_dropped: meter
            .u64_counter("board.subscriptions.dropped")
            .with_description(
                "Subscription deliveries lost, by reason: slow_subscriber (its buffer was full: the socket is closed), lagged (this process fell behind the event feed), unresolved (the entity could not be read).",
            )
            .build(),
        event_resolutions: meter
            .u64_counter("board.subscriptions.resolutions")
            .with_description(
                "Events resolved for this process's subscribers: once per event and process, however many subscribers hear it.",
            )
            .build(),
        event_round_trips: meter
            .u64_counter("board.subscriptions.resolution_round_trips")
            .with_description("Round trips of those resolutions, by store (db, cache).")
            .build(),
        ws_connections: meter
            .i64_up_down_counter("board.subscriptions.connections")
            .with_description("Open graphql-ws connections.")
            .build(),
        subscriptions: meter
            .i64_up_down_counter("board.subscriptions.active")
            .with_description("Active subscriptions, by field.")
            .build(),
        operation_names: Mutex::new(OperationNames::default()),
    };
    metrics.ws_connections.add(0, &[]);
    for field in ["postAdded", "commentAdded", "postUpdated"] {
        metrics
            .subscriptions
            .add(0, &[KeyValue::new("field", field)]);
        metrics
            .events_delivered
            .add(0, &[KeyValue::new("field", field)]);
    }
    for reason in ["slow_subscriber", "lagged", "unresolved"] {
        metrics
            .events_dropped
            .add(0, &[KeyValue::new("reason", reason)]);
    }
    for kind in crate::domain::EventKind::ALL {
        for outcome in ["ok", "error"] {
            metrics.events_published.add(
                0,
                &[
                    KeyValue::new("kind", kind.as_str()),
                    KeyValue::new("outcome", outcome),
                ],
            );
        }
    }
    metrics.event_resolutions.add(0, &[]);
    for store in ["db", "cache"] {
        metrics
            .event_round_trips
            .add(0, &[KeyValue::new("store", store)]);
    }
    // Counters appear in the exposition once touched: start the ones that are often zero at zero.
    metrics
        .rate_limited
        .add(0, &[KeyValue::new("limit", "login")]);
    metrics.log_lines_dropped.add(0, &[]);
    for outcome in ["success", "invalid", "blocked", "rate_limited"] {
        metrics.logins.add(0, &[KeyValue::new("outcome", outcome)]);
    }
    register_process_metrics(&meter);
    Some(Telemetry {
        registry,
        metrics,
        meter,
        _provider: provider,
    })
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

pub fn rate_limited(limit: &'static str) {
    if let Some(m) = metrics() {
        m.rate_limited.add(1, &[KeyValue::new("limit", limit)]);
    }
}

pub fn log_line_dropped() {
    if let Some(m) = metrics() {
        m.log_lines_dropped.add(1, &[]);
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

/// Pool statistics for the gauges: (open connections, idle connections, maximum).
pub type PoolStats = Arc<dyn Fn() -> (u64, u64, u64) + Send + Sync>;

/// Registers the connection-pool gauges of the database and the Redis client. Once per process: the
/// first application built owns them.
pub fn observe_pools(db: PoolStats, cache: PoolStats) {
    static DONE: OnceLock<()> = OnceLock::new();
    let Some(t) = telemetry() else { return };
    DONE.get_or_init(|| {
        let pools = [("db", db), ("redis", cache)];
        for (pool, stats) in pools {
            let used = Arc::clone(&stats);
            // The instruments live as long as the meter provider; their handles can go.
            let _ = t
                .meter
                .u64_observable_gauge("board.pool.connections")
                .with_description("Open connections of a pool, by state (used, idle).")
                .with_callback(move |o| {
                    let (open, idle, _) = used();
                    o.observe(
                        open.saturating_sub(idle),
                        &[KeyValue::new("pool", pool), KeyValue::new("state", "used")],
                    );
                    o.observe(
                        idle,
                        &[KeyValue::new("pool", pool), KeyValue::new("state", "idle")],
                    );
                })
                .build();
            let _ = t
                .meter
                .u64_observable_gauge("board.pool.max_connections")
                .with_description("Configured size of a pool.")
                .with_callback(move |o| {
                    let (_, _, max) = stats();
                    o.observe(max, &[KeyValue::new("pool", pool)]);
                })
                .build();
        }
    });
}

fn register_process_metrics(meter: &Meter) {
    let _ = meter
        .f64_observable_counter("process.cpu.time")
        .with_unit("s")
        .with_description("CPU time used by the process (user + system).")
        .with_callback(|o| {
            if let Some(seconds) = process::cpu_seconds() {
                o.observe(seconds, &[]);
            }
        })
        .build();
    let _ = meter
        .u64_observable_gauge("process.memory.usage")
        .with_unit("By")
        .with_description("Resident set size of the process.")
        .with_callback(|o| {
            if let Some(bytes) = process::rss_bytes() {
                o.observe(bytes, &[]);
            }
        })
        .build();
    let _ = meter
        .u64_observable_gauge("process.open_file_descriptor.count")
        .with_description("Open file descriptors of the process.")
        .with_callback(|o| {
            if let Some(n) = process::open_fds() {
                o.observe(n, &[]);
            }
        })
        .build();
    let _ = meter
        .u64_observable_gauge("board.build.info")
        .with_description("Always 1; the labels carry the build's version.")
        .with_callback(|o| o.observe(1, &[KeyValue::new("version", env!("CARGO_PKG_VERSION"))]))
        .build();
}

/// Linux `/proc` readings (absent elsewhere).
mod process {
    /// Clock ticks per second of `/proc/self/stat` (USER_HZ, 100 on Linux).
    const TICKS_PER_SECOND: f64 = 100.0;
    const PAGE_SIZE: u64 = 4096;

    pub fn cpu_seconds() -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may contain spaces) start after the last ')'.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) / TICKS_PER_SECOND)
    }

    pub fn rss_bytes() -> Option<u64> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages * PAGE_SIZE)
    }

    pub fn open_fds() -> Option<u64> {
        Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_readings_exist_on_linux() {
        assert!(process::rss_bytes().unwrap() > 0);
        assert!(process::open_fds().unwrap() > 0);
        assert!(process::cpu_seconds().is_some());
        init();
        assert!(render().contains("board_build_info"));
    }
}
