//! Observed gauges: the connection pools, and the process's CPU, memory and descriptors.

use std::sync::{Arc, OnceLock};

use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;

use super::telemetry;

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

pub(super) fn register_process_metrics(meter: &Meter) {
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
    use crate::telemetry::metrics::{init, render};

    #[test]
    fn process_readings_exist_on_linux() {
        assert!(process::rss_bytes().unwrap() > 0);
        assert!(process::open_fds().unwrap() > 0);
        assert!(process::cpu_seconds().is_some());
        init();
        assert!(render().contains("board_build_info"));
    }
}
