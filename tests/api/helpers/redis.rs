//! A redis-server of a test's own, on a free port, for scenarios that stop or slow Redis down (the shared
//! Redis of TEST_REDIS_URL is never touched).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The redis-server binary, when it is installed.
pub fn redis_binary() -> Option<String> {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    found
        .ok()
        .filter(|s| s.success())
        .map(|_| "redis-server".to_owned())
}

/// A running redis-server without persistence; killed when dropped (or by [`OwnRedis::kill`]).
pub struct OwnRedis(Child);

impl OwnRedis {
    /// Starts `binary` on `port` and waits (at most 10 s) until it accepts connections.
    pub fn start(binary: &str, port: u16) -> Self {
        let child = Command::new(binary)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (apt-get install redis-server)");
        let redis = OwnRedis(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        redis
    }

    /// Sends one command to the redis-server on `port` and answers its reply's first line (`+OK`, `-ERR …`).
    pub fn command(port: u16, args: &[&str]) -> String {
        use std::io::{BufRead, BufReader, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        line.trim_end().to_owned()
    }

    /// Stops it at once (a crash, as far as its clients can tell).
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The Redis adapter on `TEST_REDIS_URL` (required), its keys and channel under a fresh prefix.
pub async fn shared_cache(name: &str) -> (board::adapters::cache::RedisCache, String) {
    crate::helpers::require_external();
    let url = std::env::var("TEST_REDIS_URL").unwrap();
    let prefix = crate::helpers::unique(name);
    let mut feed = board::adapters::redis_feed::RedisFeed::new(&url).unwrap();
    let cache = board::adapters::cache::RedisCache::connect(
        &url,
        2,
        std::time::Duration::from_secs(2),
        &format!("{prefix}:invalidations"),
        &mut feed,
    )
    .await
    .unwrap();
    feed.start().await.unwrap();
    (cache, prefix)
}
