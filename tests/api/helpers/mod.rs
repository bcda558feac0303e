//! Test harness: a real server on a random port, on a database of its own.
//!
//! Every scenario runs on SQLite + the in-process cache. Its MariaDB (a fresh database per test) + Redis (a fresh
//! key prefix per test) variant is `#[ignore]`d: `cargo test -- --include-ignored` runs it, and it then fails,
//! never skips, when `TEST_DATABASE_URL` / `TEST_REDIS_URL` are unset or the services are unreachable.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod own_process;
pub mod process;
pub mod proxy;
pub mod redis;
pub mod ws;

use std::path::PathBuf;
use std::str::FromStr;

use board::config::{RawConfig, Secret};
use board::graphql::Services;
use serde_json::{Value, json};
use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MariaDb,
}

/// Like `backend_tests!`, for scenarios that need a configuration of their own: `name => |c| { … }`.
#[macro_export]
macro_rules! configured_tests {
    ($($name:ident => $adjust:expr),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::helpers::TestApp::spawn_with($crate::helpers::Backend::Sqlite, $adjust).await;
                    super::$name(app).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
                async fn mariadb_redis() {
                    let app = $crate::helpers::TestApp::spawn_with($crate::helpers::Backend::MariaDb, $adjust).await;
                    super::$name(app).await;
                }
            }
        )*
    };
}

/// Runs a scenario once per backend: `backend_tests!(name);` expects `async fn name(app: TestApp)` in scope.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await;
                    super::$name(app).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
                async fn mariadb_redis() {
                    let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::MariaDb).await;
                    super::$name(app).await;
                }
            }
        )*
    };
}

/// The MariaDB + Redis variants call this first: run without both variables they fail rather than pass unrun.
pub fn require_external() {
    assert!(
        external_configured(),
        "this test needs TEST_DATABASE_URL and TEST_REDIS_URL (it is #[ignore]d; `cargo test -- --include-ignored` runs it)"
    );
}

pub fn external_configured() -> bool {
    let set = |k: &str| std::env::var(k).map(|v| !v.is_empty()).unwrap_or(false);
    match (set("TEST_DATABASE_URL"), set("TEST_REDIS_URL")) {
        (true, true) => true,
        (false, false) => false,
        _ => panic!("set both TEST_DATABASE_URL and TEST_REDIS_URL, or neither"),
    }
}

pub struct TestApp {
    pub backend: Backend,
    pub base: String,
    pub config: RawConfig,
    pub services: Services,
    client: reqwest::Client,
    cleanup: Cleanup,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

pub enum Cleanup {
    /// Another server owns the database (see [`TestApp::spawn_beside`]).
    Nothing,
    File(PathBuf),
    Database {
        admin_url: String,
        name: String,
    },
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::Nothing => {}
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm", ".jwt-secret"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(p));
                }
            }
            Cleanup::Database { admin_url, name } => {
                let (url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime: use a thread with a runtime of its own.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        if let Ok(mut conn) = sqlx::MySqlConnection::connect(&url).await {
                            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS `{name}`"))
                                .execute(&mut conn)
                                .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// A configuration for a test server on `backend`, with its own database; nothing is started yet.
pub async fn test_config(backend: Backend) -> (RawConfig, Cleanup) {
    let mut config = RawConfig {
        bind: "127.0.0.1:0".into(),
        bcrypt_cost: 4,
        round_trip_headers: true,
        jwt_secret: Some(Secret::new("test-secret-test-secret-test-secret-0123")),
        cache_prefix: unique("board_t_"),
        // Every test client is 127.0.0.1; scenarios that sign many users up are not about this limit
        // (limits/sign_ups.rs sets it where it is).
        sign_ups_per_client: 10_000,
        // Scenarios that write many posts as one user are not about this limit either.
        creates_per_user: 100_000,
        // Concurrency scenarios open more connections from 127.0.0.1 than one client may
        // (http/connections.rs sets it where it is the subject).
        max_connections_per_client: 1_024,
        ..RawConfig::default()
    };
    let cleanup = match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("{}.db", unique("board-test-")));
            config.database_url = format!("sqlite://{}", path.display());
            Cleanup::File(path)
        }
        Backend::MariaDb => {
            require_external();
            let admin_url = std::env::var("TEST_DATABASE_URL").unwrap();
            let name = unique("board_t_");
            let mut conn = sqlx::MySqlConnection::connect(&admin_url)
                .await
                .unwrap_or_else(|e| {
                    panic!("TEST_DATABASE_URL is set but MariaDB is unreachable: {e}")
                });
            sqlx::query(&format!(
                "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            ))
            .execute(&mut conn)
            .await
            .unwrap();
            let mut url = url::Url::from_str(&admin_url).unwrap();
            url.set_path(&name);
            config.database_url = url.to_string();
            config.redis_url = Some(std::env::var("TEST_REDIS_URL").unwrap());
            Cleanup::Database { admin_url, name }
        }
    };
    (config, cleanup)
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut RawConfig)) -> Self {
        let (mut config, cleanup) = test_config(backend).await;
        adjust(&mut config);
        Self::spawn_on(backend, config, cleanup).await
    }

    /// A second server on this one's database and cache, as another replica of a deployment would be.
    pub async fn spawn_beside(&self) -> Self {
        Self::spawn_on(self.backend, self.config.clone(), Cleanup::Nothing).await
    }

    /// A server on a database made (and perhaps filled) beforehand by [`test_config`].
    pub async fn spawn_on(backend: Backend, config: RawConfig, cleanup: Cleanup) -> Self {
        // Server logs (warnings and errors by default) go to the test's captured output.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
        let app = board::App::build(config.clone())
            .await
            .unwrap_or_else(|e| panic!("the {backend:?} test server did not start: {e}"));
        let services = app.services.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.serve(listener, async {
            let _ = rx.await;
        }));
        Self {
            backend,
            base,
            config,
            services,
            client: reqwest::Client::new(),
            cleanup,
            shutdown: Some(tx),
        }
    }

    /// Starts the server's shutdown (as SIGTERM does).
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The server's /metrics exposition (asserting it answers 200).
    pub async fn metrics_text(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// A raw POST of `body` to /graphql.
    pub async fn post(&self, body: &Value, token: Option<&str>) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// Sends `operations` (a JSON array) as one batch; answers each element's response, in order.
    pub async fn batch(&self, operations: &Value, token: Option<&str>) -> Vec<Value> {
        let response = self.post(operations, token).await;
        assert_eq!(response.status(), 200, "a batch answers 200");
        response.json().await.unwrap()
    }

    /// Runs an operation; answers the whole response body (`data` and `errors`).
    pub async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let response = self
            .post(&json!({ "query": query, "variables": variables }), token)
            .await;
        assert_eq!(response.status(), 200, "GraphQL answers 200");
        response.json().await.unwrap()
    }

    /// Waits (at most 20 s) until every notification fan-out of the writes so far finished: fan-outs run
    /// after their write answered, read the database and forget unread counts, which would make the round
    /// trips a test counts depend on timing.
    pub async fn settle_fanout(&self) {
        let started = std::time::Instant::now();
        while self.services.inbox.outbox_backlog().await.unwrap() > 0 {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "the notification outbox did not drain"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Runs an operation (once earlier writes' fan-outs settled) and answers (body, database round trips,
    /// cache round trips).
    pub async fn gql_counted(
        &self,
        query: &str,
        variables: Value,
        token: Option<&str>,
    ) -> (Value, u64, u64) {
        self.settle_fanout().await;
        let response = self
            .post(&json!({ "query": query, "variables": variables }), token)
            .await;
        let header =
            |name: &str| -> u64 { response.headers()[name].to_str().unwrap().parse().unwrap() };
        let (db, cache) = (header("x-db-round-trips"), header("x-cache-round-trips"));
        (response.json().await.unwrap(), db, cache)
    }

    /// Runs an operation that must succeed; answers `data`.
    pub async fn ok(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let body = self.gql(query, variables, token).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// The id of the first category listed (a root category of the migrated tree).
    pub async fn first_category(&self) -> String {
        let data = self.ok("{ categories { id } }", json!({}), None).await;
        data["categories"][0]["id"].as_str().unwrap().to_owned()
    }

    /// Creates a post as the holder of `token`; answers its id.
    pub async fn create_post(
        &self,
        token: &str,
        category: &str,
        title: &str,
        content: &str,
    ) -> String {
        let data = self
            .ok(
                "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
                json!({ "i": { "categoryId": category, "title": title, "content": content } }),
                Some(token),
            )
            .await;
        data["createPost"]["post"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn sign_up(&self, name: &str, email: &str, password: &str) -> Session {
        let data = self
            .ok(
                "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken refreshToken user { id name } } }",
                json!({ "i": { "name": name, "email": email, "password": password } }),
                None,
            )
            .await;
        Session::from(&data["signUp"])
    }

    /// Whether an account named `name` is in the database within 30 seconds (asked of the application,
    /// not over HTTP: for work nobody waits for any more).
    pub async fn account_appears(&self, name: &str) -> bool {
        for _ in 0..300 {
            let id = self.services.accounts.user_id_by_name(name).await.unwrap();
            if id.is_some() {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        false
    }

    pub async fn login(&self, login: &str, password: &str) -> Value {
        self.gql(
            "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken user { id name email } } }",
            json!({ "i": { "login": login, "password": password } }),
            None,
        )
        .await
    }

    /// Makes `name` an admin the way an operator does (`board set-role <name> admin` runs this use case).
    pub async fn make_admin(&self, name: &str) {
        self.services
            .accounts
            .set_role_by_name(name, board::domain::Role::Admin)
            .await
            .unwrap();
    }

    /// Signs up a user and makes them an admin; answers their session.
    pub async fn admin(&self) -> Session {
        let name = format!("admin{}", &unique("")[..8]);
        let session = self
            .sign_up(&name, &format!("{name}@example.com"), "admin-password")
            .await;
        self.make_admin(&name).await;
        session
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub user_id: String,
}

impl From<&Value> for Session {
    fn from(v: &Value) -> Self {
        Self {
            access: v["accessToken"].as_str().unwrap().to_owned(),
            refresh: v["refreshToken"].as_str().unwrap().to_owned(),
            user_id: v["user"]["id"].as_str().unwrap().to_owned(),
        }
    }
}

/// The first error's `extensions.code`.
pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error with a code: {body:#}"))
}

/// The first error's `extensions.field`.
pub fn field(body: &Value) -> &str {
    body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error naming a field: {body:#}"))
}

/// Whether the answer carries errors.
pub fn has_errors(body: &Value) -> bool {
    body.get("errors").is_some()
}

/// `ok`, or the first error's code.
pub fn outcome(body: &Value) -> String {
    if has_errors(body) {
        code(body).to_owned()
    } else {
        "ok".to_owned()
    }
}

/// How many answers carry each outcome (`ok` or the error code).
pub fn tally(answers: &[Value]) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for answer in answers {
        *counts.entry(outcome(answer)).or_insert(0) += 1;
    }
    counts
}
