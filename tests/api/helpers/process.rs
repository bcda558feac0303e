//! A `board serve` process of its own on a test's database and Redis, killed when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::redis::free_port;

pub struct BoardProcess {
    child: Child,
    pub base: String,
}

impl Drop for BoardProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `board serve` on a free port with `config`'s database, Redis, signing key and cache prefix (plus
/// `extra_env`), and waits until its `/readyz` answers 200.
pub async fn serve(config: &board::config::RawConfig, extra_env: &[(&str, &str)]) -> BoardProcess {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_board"))
        .arg("serve")
        .env("DATABASE_URL", &config.database_url)
        .env("REDIS_URL", config.redis_url.as_deref().unwrap())
        .env(
            "BOARD_JWT_SECRET",
            config.jwt_secret.as_ref().unwrap().expose(),
        )
        .env("BOARD_BIND", format!("127.0.0.1:{port}"))
        .env("BOARD_CACHE_PREFIX", &config.cache_prefix)
        .env("BOARD_BCRYPT_COST", "4")
        .env("RUST_LOG", "warn")
        .envs(extra_env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start board serve");
    let process = BoardProcess {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{}/readyz", process.base)).send().await
            && r.status() == 200
        {
            return process;
        }
        assert!(
            Instant::now() < deadline,
            "{} did not become ready",
            process.base
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
