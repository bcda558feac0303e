//! Logging, metrics, traces and request-scoped measurements.

pub mod logstash;
pub mod metrics;
pub mod operation_names;
pub mod traces;

use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// Installs the global tracing subscriber: one JSON object per line on stdout (or human-readable text),
/// filtered by `RUST_LOG` (default `info`), and, with `logstash_addr`, the same JSON lines shipped to
/// Logstash over TCP. Call inside the Tokio runtime. A second call keeps the first subscriber.
pub fn init_logging(format: LogFormat, logstash_addr: Option<&str>) {
    init(format, logstash_addr, None);
}

/// [`init_logging`], and spans: with `otlp_endpoint`, every span gets OpenTelemetry ids (log lines carry
/// them) and is exported in batches to that OTLP/HTTP receiver (see [`traces`]).
pub fn init(format: LogFormat, logstash_addr: Option<&str>, otlp_endpoint: Option<&str>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let stdout = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_target(true)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer().with_target(true).boxed(),
    };
    let logstash = logstash_addr.map(|addr| {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_target(true)
            .with_writer(logstash::LogstashSink::start(addr.to_owned()))
            .boxed()
    });
    // Without an exporter no span leaves the process: the layer would only give log lines ids, which the
    // request state gives them for less (see `RequestState::log_ids`).
    let spans = traces::tracer(otlp_endpoint).map(|tracer| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_level(false)
            .with_tracked_inactivity(false)
            // Log lines already carry their span's ids; only warnings and errors also become span events (a copy
            // of every request's info line in its trace was 40 % of the bytes exported per request, and most of
            // what tracing cost: bench/traces.sh).
            .with_filter(filter_fn(|metadata| {
                metadata.is_span() || *metadata.level() <= tracing::Level::WARN
            }))
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stdout)
        .with(logstash)
        .with(spans)
        .try_init();
}
