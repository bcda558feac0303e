//! Ships log lines to a Logstash `tcp` input (`json_lines` codec) from a bounded, non-blocking buffer.
//!
//! Logging never waits for Logstash: a line that does not fit the buffer, or that arrives while Logstash is
//! unreachable, is dropped and counted (`board_log_lines_dropped_total`). The shipper reconnects by itself.

use std::io::Write;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing_subscriber::fmt::MakeWriter;

use super::metrics;

/// Lines held while the connection is slow.
const BUFFER_LINES: usize = 10_000;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// A `MakeWriter` for the JSON formatting layer: each event becomes one queued line.
#[derive(Clone)]
pub struct LogstashSink {
    lines: mpsc::Sender<Vec<u8>>,
}

impl LogstashSink {
    /// Starts the shipper task (call inside the Tokio runtime).
    pub fn start(addr: String) -> Self {
        let (lines, rx) = mpsc::channel(BUFFER_LINES);
        tokio::spawn(ship(addr, rx));
        Self { lines }
    }
}

pub struct LineWriter {
    buf: Vec<u8>,
    lines: mpsc::Sender<Vec<u8>>,
}

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        if !self.buf.ends_with(b"\n") {
            self.buf.push(b'\n');
        }
        if self.lines.try_send(std::mem::take(&mut self.buf)).is_err() {
            metrics::log_line_dropped();
        }
    }
}

impl<'a> MakeWriter<'a> for LogstashSink {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            buf: Vec::with_capacity(512),
            lines: self.lines.clone(),
        }
    }
}

async fn connect(addr: &str) -> Option<TcpStream> {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Some(stream)
        }
        _ => None,
    }
}

/// Drops (and counts) every line that arrives within `period`; `false` when the loggers are gone.
async fn drop_for(rx: &mut mpsc::Receiver<Vec<u8>>, period: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + period;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(_)) => metrics::log_line_dropped(),
            Ok(None) => return false,
            Err(_) => return true,
        }
    }
}

async fn ship(addr: String, mut rx: mpsc::Receiver<Vec<u8>>) {
    let mut backoff = Duration::from_millis(250);
    loop {
        let Some(mut stream) = connect(&addr).await else {
            // Unreachable: lines that arrive meanwhile are dropped, not queued behind a dead peer.
            if !drop_for(&mut rx, backoff).await {
                return;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            continue;
        };
        backoff = Duration::from_millis(250);
        while let Some(line) = rx.recv().await {
            if stream.write_all(&line).await.is_err() {
                metrics::log_line_dropped();
                break;
            }
        }
        if rx.is_closed() && rx.is_empty() {
            return;
        }
    }
}
