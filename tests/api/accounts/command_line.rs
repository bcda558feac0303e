//! What an operator does from the command line while the server runs.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, code};

backend_tests!(a_role_given_from_the_command_line_reaches_the_running_server);

const ROLE: &str = "{ viewer { role } }";
const CREATE: &str = "mutation { createCategory(input: { name: \"운영\" }) { category { name } } }";

/// `board set-role <name> <role>` on the server's database, and on its Redis when it has one and `redis`.
fn set_role(app: &TestApp, name: &str, role: &str, redis: bool) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_board"));
    command
        .args(["set-role", name, role])
        .env("DATABASE_URL", &app.config.database_url)
        .env("BOARD_CACHE_PREFIX", &app.config.cache_prefix)
        .env("RUST_LOG", "warn")
        .env_remove("REDIS_URL")
        .stdin(Stdio::null());
    if let Some(secret) = &app.config.jwt_secret {
        command.env("BOARD_JWT_SECRET", secret.expose());
    }
    if let Some(url) = app.config.redis_url.as_ref().filter(|_| redis) {
        command.env("REDIS_URL", url);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "board set-role failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Waits (at most 10 s) until the running server says the member's role is `role`.
async fn until_role(app: &TestApp, token: Option<&str>, role: &str) {
    let started = Instant::now();
    let now = |data: Value| data["viewer"]["role"].clone();
    while now(app.ok(ROLE, json!({}), token).await) != role {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the running server still serves the old role, not {role}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first admin is made from the command line while the server runs and has the member cached, then
/// demoted the same way. With Redis the command deletes the cached entry itself: the next request sees the
/// role. Either way it notes the change for the running servers, which read those notes every second and
/// forget the user: the in-process cache, which no other process reaches, and a Redis the command could not
/// delete in (here: the command run without the servers' Redis) are followed within moments, not after the
/// cache's five minutes.
async fn a_role_given_from_the_command_line_reaches_the_running_server(app: TestApp) {
    let member = app
        .sign_up("철수kim", "kim@example.com", "password-1")
        .await;
    let token = Some(member.access.as_str());
    assert_eq!(
        app.ok(ROLE, json!({}), token).await["viewer"]["role"],
        "USER"
    );
    assert_eq!(code(&app.gql(CREATE, json!({}), token).await), "FORBIDDEN");

    set_role(&app, "철수kim", "admin", true);
    if app.backend == Backend::MariaDb {
        let data = app.ok(ROLE, json!({}), token).await;
        assert_eq!(data["viewer"]["role"], "ADMIN");
    }
    until_role(&app, token, "ADMIN").await;
    // The same access token now acts as an admin.
    let created = app.ok(CREATE, json!({}), token).await;
    assert_eq!(created["createCategory"]["category"]["name"], "운영");

    // Demoted by a command whose cache deletion never reaches the servers' cache.
    set_role(&app, "철수kim", "user", false);
    until_role(&app, token, "USER").await;
    assert_eq!(code(&app.gql(CREATE, json!({}), token).await), "FORBIDDEN");
}
