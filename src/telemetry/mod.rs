//! Logging and request-scoped measurements.

pub mod roundtrips;

use crate::config::LogFormat;

/// Installs the global tracing subscriber: one JSON object per line on stdout (or human-readable text),
/// filtered by `RUST_LOG` (default `info`).
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    // A second initialisation (tests, embedding) keeps the first subscriber.
    let _ = result;
}
