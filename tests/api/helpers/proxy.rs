//! A TCP proxy of our own between `board` and a backing service, to inject network faults.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// A TCP proxy on 127.0.0.1 in front of `target`, controllable while connections are open:
/// [`Proxy::r#break`] drops every open connection and closes new ones at once, [`Proxy::restore`] forwards again,
/// and [`Proxy::set_delay`] holds every chunk coming back from the upstream for that long before the client sees it.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

struct Shared {
    target: String,
    broken: AtomicBool,
    delay_ms: AtomicU64,
    /// Bumped by `break()`; every connection task watches it and drops its sockets when it changes.
    epoch: watch::Sender<u64>,
}

impl Proxy {
    pub async fn start(target: impl Into<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            target: target.into(),
            broken: AtomicBool::new(false),
            delay_ms: AtomicU64::new(0),
            epoch: watch::channel(0).0,
        });
        let accept = tokio::spawn({
            let shared = Arc::clone(&shared);
            async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    // Subscribe before looking at `broken`: `break()` sets the flag first and bumps the epoch
                    // second, so a connection accepted around a break sees one or the other.
                    let epoch = shared.epoch.subscribe();
                    if shared.broken.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    tokio::spawn(forward(client, Arc::clone(&shared), epoch));
                }
            }
        });
        Self {
            addr,
            shared,
            accept,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Drops every open connection and closes connections accepted from now on, until [`Proxy::restore`].
    pub fn r#break(&self) {
        self.shared.broken.store(true, Ordering::SeqCst);
        self.shared.epoch.send_modify(|e| *e += 1);
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.shared.broken.store(false, Ordering::SeqCst);
    }

    /// Delays every chunk from the upstream to the client by `delay` (measured from when the proxy read it);
    /// takes effect at once, also for chunks already waiting.
    pub fn set_delay(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.delay_ms.store(millis, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.r#break();
    }
}

async fn forward(client: TcpStream, shared: Arc<Shared>, mut epoch: watch::Receiver<u64>) {
    let connect = tokio::time::timeout(
        Duration::from_secs(5),
        TcpStream::connect(shared.target.as_str()),
    );
    let upstream = tokio::select! {
        connected = connect => match connected {
            Ok(Ok(upstream)) => upstream,
            _ => return,
        },
        _ = epoch.changed() => return,
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();

    let to_upstream = async {
        let _ = tokio::io::copy(&mut client_read, &mut upstream_write).await;
        let _ = upstream_write.shutdown().await;
    };

    // Upstream → client: a reader stamps each chunk with the time it arrived, a writer releases it once the
    // current delay has passed since then. Latency, not throughput, is what is slowed down.
    let (chunks_tx, mut chunks_rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let read_upstream = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match upstream_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if chunks_tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
    };
    let write_client = async {
        while let Some((arrived, chunk)) = chunks_rx.recv().await {
            loop {
                let delay = Duration::from_millis(shared.delay_ms.load(Ordering::SeqCst));
                let due = arrived + delay;
                if Instant::now() >= due {
                    break;
                }
                // Wake at least every 50 ms so that a shorter delay set meanwhile applies at once.
                let nap = (due - Instant::now()).min(Duration::from_millis(50));
                tokio::time::sleep(nap).await;
            }
            if client_write.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = client_write.shutdown().await;
    };

    tokio::select! {
        _ = async { tokio::join!(to_upstream, read_upstream, write_client) } => {}
        _ = epoch.changed() => {}
    }
    // Both sockets are dropped here: the client and the upstream see the connection end.
}
