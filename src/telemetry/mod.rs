//! Logging, metrics and request-scoped measurements.

pub mod logstash;
pub mod metrics;
pub mod operation_names;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// Installs the global tracing subscriber: one JSON object per line on stdout (or human-readable text),
/// filtered by `RUST_LOG` (default `info`), and, with `logstash_addr`, the same JSON lines shipped to
/// Logstash over TCP. Call inside the Tokio runtime. A second call keeps the first subscriber.
pub fn init_logging(format: LogFormat, logstash_addr: Option<&str>) {
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
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stdout)
        .with(logstash)
        .try_init();
}
