//! A Redis that answers but refuses the limiter's commands (here: its user may not run scripts, as a
//! Redis Cluster refuses a script whose keys span slots, or a server without the script refuses EVALSHA):
//! the guess limit still holds, counted in the process with the same numbers, and the fallback is counted.

use crate::helpers::redis::{OwnRedis, free_port, redis_binary};
use crate::helpers::{Backend, TestApp, code};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn wrong_passwords_are_limited_while_redis_refuses_the_limiters_commands() {
    let Some(binary) = redis_binary() else {
        panic!("redis-server is not installed: install it (apt-get install redis-server)");
    };
    let port = free_port();
    let _redis = OwnRedis::start(&binary, port);
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.redis_url = Some(format!("redis://127.0.0.1:{port}/0"));
        c.login_failures_per_account = 5;
    })
    .await;
    app.sign_up("refused", "refused@example.com", "password-1")
        .await;
    // From here Redis refuses every script: the limiter's additions answer NOPERM at once.
    let denied = OwnRedis::command(port, &["ACL", "SETUSER", "default", "-eval", "-evalsha"]);
    assert_eq!(denied, "+OK");

    let mut codes = Vec::new();
    for _ in 0..8 {
        let answer = app.login("refused", "wrong-password").await;
        codes.push(code(&answer).to_owned());
    }
    eprintln!("8 wrong passwords while Redis refuses the limiter's scripts: {codes:?}");
    assert_eq!(codes[..5], ["UNAUTHENTICATED"; 5], "{codes:?}");
    assert!(codes[5..].iter().all(|c| c == "RATE_LIMITED"), "{codes:?}");
    // The right password is refused too now: the limit is not off, it is counted here.
    assert_eq!(
        code(&app.login("refused", "password-1").await),
        "RATE_LIMITED"
    );

    let metrics = app.metrics_text().await;
    let counted: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("board_limiter_fallbacks_total") && l.contains("guess_account"))
        .collect();
    assert!(
        counted.iter().any(|l| !l.ends_with(" 0")),
        "the fallback is counted per limit: {counted:?}"
    );
}
