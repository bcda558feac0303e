//! Typed, layered configuration: defaults < `board.toml` (or the file named by `BOARD_CONFIG`) < environment.
//!
//! Environment keys are `BOARD_<KEY>` for every field below (e.g. `BOARD_BIND`, `BOARD_JWT_SECRET`), plus the
//! conventional `DATABASE_URL`, `DATABASE_READ_URL` and `REDIS_URL`. This is the only module that reads the environment.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The file behind an SQLite URL (`sqlite://board.db`, `sqlite:///tmp/x.db?mode=rwc`), or `None` for an
/// in-memory database or a URL that is not SQLite's.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || rest.contains("mode=memory") {
        None
    } else {
        Some(PathBuf::from(path))
    }
}

/// A value that must never be printed: `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Replaces the password of a URL (`mysql://user:pw@host/db`) by `***`, for logs and `Debug`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            // Only fails for URLs that cannot have a password, which this one evidently can.
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        Ok(_) => raw.to_owned(),
        Err(_) if raw.contains('@') => "<unparseable url with credentials>".to_owned(),
        Err(_) => raw.to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `sqlite://board.db` (created if missing), `sqlite::memory:` or `mysql://user:pw@host:3306/db`.
    pub database_url: String,
    /// Unset: the in-process cache. `redis://…`: Redis, shared by all replicas.
    pub redis_url: Option<String>,
    /// A read replica of `database_url` (same dialect), e.g. a MariaDB replica. Lists, counts and vote
    /// lookups of queries go there; writes, cache fills and the reads of a viewer who wrote in the last
    /// `read_your_writes_secs` stay on the primary. Unset: everything on the primary.
    pub database_read_url: Option<String>,
    /// How long after a mutation its viewer's reads stay on the primary (longer than the replica's lag).
    pub read_your_writes_secs: u64,
    pub bind: String,
    /// HS256 key, at least 32 bytes. Required with MariaDB; generated once and kept beside an SQLite file otherwise.
    pub jwt_secret: Option<Secret>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    pub bcrypt_cost: u32,
    pub auto_migrate: bool,
    /// First segment of every cache key (`<prefix>:v1:user:42`).
    pub cache_prefix: String,
    pub cache_ttl_secs: u64,
    /// Life of a decoded value in the process's near cache, in front of the shared cache; every deletion
    /// reaches it at once (Redis pub/sub across processes). 0: no near cache.
    pub near_cache_ttl_ms: u64,
    /// Bound on every cache command; past it the read goes to the database.
    pub cache_timeout_ms: u64,
    pub db_max_connections: u32,
    pub db_acquire_timeout_ms: u64,
    pub max_body_bytes: usize,
    pub graphiql: bool,
    pub introspection: bool,
    pub max_depth: usize,
    pub max_complexity: usize,
    pub log_format: LogFormat,
    /// Answer `x-db-round-trips` / `x-cache-round-trips` on `/graphql` (tests and benchmarks; off in production).
    pub round_trip_headers: bool,
    /// A header set by a trusted reverse proxy that names the client (e.g. `x-forwarded-for`); unset: the
    /// peer address. Never set it when clients reach `board` directly: they could claim any address.
    pub client_ip_header: Option<String>,
    /// Serve `/metrics` on this address instead of the main one (e.g. `0.0.0.0:9100`).
    pub metrics_bind: Option<String>,
    /// `host:port` of a Logstash `tcp` input with the `json_lines` codec; unset: stdout only.
    pub logstash_addr: Option<String>,
    /// A GraphQL request running longer is stopped and answered `SERVICE_UNAVAILABLE`.
    pub request_timeout_ms: u64,
    /// A request's search statements (index candidates, counts) together run at most this long from the
    /// request's start; MariaDB stops each one at what is left.
    pub search_statement_ms: u64,
    /// Search statements running at once per process (a share of the pool's `db_max_connections`); more
    /// wait within their request's search budget, then get `SERVICE_UNAVAILABLE`.
    pub search_concurrency: usize,
    /// Directives on one field.
    pub max_directives: usize,
    /// Aliases in one document.
    pub max_aliases: usize,
    /// Lexical tokens in one document (checked before parsing).
    pub max_tokens: usize,
    /// Operations in one batched request.
    pub max_batch: usize,
    /// Failed logins allowed per account within `login_window_secs` before `RATE_LIMITED`.
    pub login_failures_per_account: u64,
    /// Failed logins allowed per client address within `login_window_secs`.
    pub login_failures_per_client: u64,
    /// The window of every per-account, per-client and per-user limit.
    pub login_window_secs: u64,
    /// Sign-ups allowed per client address within `login_window_secs`.
    pub sign_ups_per_client: u64,
    /// Post and comment edits allowed per user within `login_window_secs`.
    pub edits_per_user: u64,
    /// Posts and comments created per user within `login_window_secs`.
    pub creates_per_user: u64,
    /// bcrypt work admitted (running or waiting) per purpose (logins, sign-ups, password checks); past it
    /// the request is answered `RATE_LIMITED` at once.
    pub bcrypt_queue: usize,
    /// A response body larger than this is replaced by a `QUERY_TOO_COMPLEX` error.
    pub max_response_bytes: usize,
    /// A client must send a request's whole header within this.
    pub header_read_timeout_ms: u64,
    /// A client must send a request's whole body within this (from when the handler starts reading it).
    pub body_read_timeout_ms: u64,
    /// A kept-alive connection with no request for this long is closed.
    pub idle_timeout_ms: u64,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Connections served at once from one client address (the TCP peer: behind a proxy, the proxy's, so
    /// the compose stack raises it and limits clients in nginx); a further one is closed when accepted.
    pub max_connections_per_client: usize,
    /// Admitted bcrypt work waits at most this long for its turn; past it (or when the queue ahead would
    /// take longer, by the recent hashing times) it is answered `RATE_LIMITED`, never the request timeout.
    pub bcrypt_max_wait_ms: u64,
    /// Origins allowed to call the API from a browser, e.g. `["https://board.example"]`; empty: none.
    /// In the environment: `BOARD_CORS_ALLOWED_ORIGINS='["https://a.example","https://b.example"]'`.
    pub cors_allowed_origins: Vec<String>,
    /// Request headers a browser may send cross-origin (answered in `Access-Control-Allow-Headers`); the
    /// default covers what GraphQL clients send. In the environment as a JSON list, like the origins.
    pub cors_allowed_headers: Vec<String>,
    /// On SIGTERM, in-flight requests get this long to finish before the process exits.
    pub shutdown_grace_secs: u64,
    /// How long a text registered by an automatic persisted query (Apollo APQ) is kept in the cache.
    pub persisted_query_ttl_secs: u64,
    /// `Cache-Control: public, max-age=…` of an anonymous persisted GET that succeeded; 0: never cacheable.
    pub persisted_get_max_age_secs: u64,
    /// A manifest of trusted documents (graphql-codegen's `persisted-documents.json`): when set, only its
    /// documents run. Unset: any operation runs.
    pub trusted_documents: Option<PathBuf>,
    /// Subscriptions one socket may run at once; more are answered `RATE_LIMITED`.
    pub ws_subscriptions_per_connection: usize,
    /// Subscription sockets one client address may hold open; more are closed with 4429.
    pub ws_connections_per_client: usize,
    /// The largest message a client may send over a socket (larger: closed with 1009).
    pub ws_max_message_bytes: usize,
    /// Messages queued for one socket; a client that lets it fill up is closed with 1008.
    pub ws_send_buffer: usize,
    /// Bytes of messages queued for one socket (one message always fits an empty queue); a client that
    /// lets them pile up beyond this is closed with 1008.
    pub ws_send_buffer_bytes: usize,
    /// `connection_init` must arrive within this (else: closed with 4408).
    pub ws_init_timeout_ms: u64,
    /// A graphql-ws `ping` to each socket this often (at most half `idle_timeout_ms`).
    pub ws_keepalive_secs: u64,
    /// How often a socket checks that its user may still act (blocked or resigned: closed with 4403).
    pub ws_recheck_secs: u64,
    /// Events one subscription may fall behind the process's feed before its socket is closed as too slow.
    pub ws_event_buffer: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://board.db".into(),
            redis_url: None,
            database_read_url: None,
            read_your_writes_secs: 5,
            bind: "127.0.0.1:8080".into(),
            jwt_secret: None,
            jwt_issuer: "board".into(),
            jwt_audience: "board".into(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 14 * 24 * 60 * 60,
            bcrypt_cost: 12,
            auto_migrate: true,
            cache_prefix: "board".into(),
            cache_ttl_secs: 300,
            near_cache_ttl_ms: 5_000,
            cache_timeout_ms: 250,
            db_max_connections: 16,
            db_acquire_timeout_ms: 3_000,
            max_body_bytes: 1024 * 1024,
            graphiql: true,
            introspection: true,
            max_depth: 12,
            max_complexity: 10_000,
            log_format: LogFormat::Json,
            round_trip_headers: false,
            client_ip_header: None,
            metrics_bind: None,
            logstash_addr: None,
            request_timeout_ms: 10_000,
            search_statement_ms: 2_000,
            search_concurrency: 4,
            max_directives: 5,
            max_aliases: 30,
            max_tokens: 5_000,
            max_batch: 10,
            login_failures_per_account: 5,
            login_failures_per_client: 50,
            login_window_secs: 900,
            sign_ups_per_client: 10,
            edits_per_user: 60,
            creates_per_user: 60,
            bcrypt_queue: 32,
            max_response_bytes: 4 * 1024 * 1024,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_connections: 1_024,
            max_connections_per_client: 64,
            bcrypt_max_wait_ms: 2_000,
            cors_allowed_origins: Vec::new(),
            cors_allowed_headers: DEFAULT_CORS_ALLOWED_HEADERS
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
            shutdown_grace_secs: 20,
            persisted_query_ttl_secs: 24 * 60 * 60,
            persisted_get_max_age_secs: 60,
            trusted_documents: None,
            ws_subscriptions_per_connection: 20,
            ws_connections_per_client: 100,
            ws_max_message_bytes: 64 * 1024,
            ws_send_buffer: 256,
            ws_send_buffer_bytes: 1024 * 1024,
            ws_init_timeout_ms: 10_000,
            ws_keepalive_secs: 15,
            ws_recheck_secs: 30,
            ws_event_buffer: 256,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field(
                "database_read_url",
                &self.database_read_url.as_deref().map(redact_url),
            )
            .field("read_your_writes_secs", &self.read_your_writes_secs)
            .field("bind", &self.bind)
            .field("jwt_secret", &self.jwt_secret)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("refresh_token_ttl_secs", &self.refresh_token_ttl_secs)
            .field("bcrypt_cost", &self.bcrypt_cost)
            .field("auto_migrate", &self.auto_migrate)
            .field("cache_prefix", &self.cache_prefix)
            .field("cache_ttl_secs", &self.cache_ttl_secs)
            .field("near_cache_ttl_ms", &self.near_cache_ttl_ms)
            .field("cache_timeout_ms", &self.cache_timeout_ms)
            .field("db_max_connections", &self.db_max_connections)
            .field("db_acquire_timeout_ms", &self.db_acquire_timeout_ms)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("graphiql", &self.graphiql)
            .field("introspection", &self.introspection)
            .field("max_depth", &self.max_depth)
            .field("max_complexity", &self.max_complexity)
            .field("log_format", &self.log_format)
            .field("round_trip_headers", &self.round_trip_headers)
            .field("client_ip_header", &self.client_ip_header)
            .field("metrics_bind", &self.metrics_bind)
            .field("logstash_addr", &self.logstash_addr)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("search_statement_ms", &self.search_statement_ms)
            .field("search_concurrency", &self.search_concurrency)
            .field("max_directives", &self.max_directives)
            .field("max_aliases", &self.max_aliases)
            .field("max_tokens", &self.max_tokens)
            .field("max_batch", &self.max_batch)
            .field(
                "login_failures_per_account",
                &self.login_failures_per_account,
            )
            .field("login_failures_per_client", &self.login_failures_per_client)
            .field("login_window_secs", &self.login_window_secs)
            .field("sign_ups_per_client", &self.sign_ups_per_client)
            .field("edits_per_user", &self.edits_per_user)
            .field("creates_per_user", &self.creates_per_user)
            .field("bcrypt_queue", &self.bcrypt_queue)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("header_read_timeout_ms", &self.header_read_timeout_ms)
            .field("body_read_timeout_ms", &self.body_read_timeout_ms)
            .field("idle_timeout_ms", &self.idle_timeout_ms)
            .field("max_connections", &self.max_connections)
            .field(
                "max_connections_per_client",
                &self.max_connections_per_client,
            )
            .field("bcrypt_max_wait_ms", &self.bcrypt_max_wait_ms)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("cors_allowed_headers", &self.cors_allowed_headers)
            .field("shutdown_grace_secs", &self.shutdown_grace_secs)
            .field("persisted_query_ttl_secs", &self.persisted_query_ttl_secs)
            .field(
                "persisted_get_max_age_secs",
                &self.persisted_get_max_age_secs,
            )
            .field("trusted_documents", &self.trusted_documents)
            .field(
                "ws_subscriptions_per_connection",
                &self.ws_subscriptions_per_connection,
            )
            .field("ws_connections_per_client", &self.ws_connections_per_client)
            .field("ws_max_message_bytes", &self.ws_max_message_bytes)
            .field("ws_send_buffer", &self.ws_send_buffer)
            .field("ws_send_buffer_bytes", &self.ws_send_buffer_bytes)
            .field("ws_init_timeout_ms", &self.ws_init_timeout_ms)
            .field("ws_keepalive_secs", &self.ws_keepalive_secs)
            .field("ws_recheck_secs", &self.ws_recheck_secs)
            .field("ws_event_buffer", &self.ws_event_buffer)
            .finish()
    }
}

/// What GraphQL clients send cross-origin: the body type and token, request ids and trace context, and
/// Apollo's client identification.
pub const DEFAULT_CORS_ALLOWED_HEADERS: &[&str] = &[
    "content-type",
    "authorization",
    "x-request-id",
    "traceparent",
    "tracestate",
    "apollographql-client-name",
    "apollographql-client-version",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("could not read configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("could not keep the generated JWT secret in {path}: {source}")]
    SecretFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where the JWT secret came from, so start-up can say so in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Configured,
    GeneratedFile(PathBuf),
    LoadedFile(PathBuf),
    Ephemeral,
}

const MIN_SECRET_BYTES: usize = 32;

impl Config {
    /// Reads defaults, then `board.toml` (or `$BOARD_CONFIG`), then the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var("BOARD_CONFIG").unwrap_or_else(|_| "board.toml".into());
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(Env::raw().only(&["DATABASE_URL", "DATABASE_READ_URL", "REDIS_URL"]))
            .merge(Env::prefixed("BOARD_").ignore(&["CONFIG"]))
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(bad) = self
            .cors_allowed_headers
            .iter()
            .find(|h| axum::http::HeaderName::from_bytes(h.as_bytes()).is_err())
        {
            return Err(ConfigError::Invalid(format!(
                "cors_allowed_headers: {bad:?} is not a header name"
            )));
        }
        if !self.is_sqlite() && !self.is_mysql() {
            return Err(ConfigError::Invalid(format!(
                "DATABASE_URL must start with sqlite: or mysql:/mariadb: (got {})",
                redact_url(&self.database_url)
            )));
        }
        if let Some(read) = &self.database_read_url {
            let same_dialect = if self.is_sqlite() {
                read.starts_with("sqlite:")
            } else {
                read.starts_with("mysql:") || read.starts_with("mariadb:")
            };
            if !same_dialect {
                return Err(ConfigError::Invalid(format!(
                    "DATABASE_READ_URL must be a replica of DATABASE_URL, on the same kind of database (got {})",
                    redact_url(read)
                )));
            }
        }
        if let Some(secret) = &self.jwt_secret
            && secret.expose().len() < MIN_SECRET_BYTES
        {
            return Err(ConfigError::Invalid(format!(
                "BOARD_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes"
            )));
        }
        if !(4..=31).contains(&self.bcrypt_cost) {
            return Err(ConfigError::Invalid(
                "BOARD_BCRYPT_COST must be 4–31".into(),
            ));
        }
        if self.request_timeout_ms == 0 {
            return Err(ConfigError::Invalid(
                "BOARD_REQUEST_TIMEOUT_MS must be positive".into(),
            ));
        }
        if self.header_read_timeout_ms == 0
            || self.body_read_timeout_ms == 0
            || self.idle_timeout_ms == 0
            || self.max_connections == 0
            || self.max_connections_per_client == 0
            || self.search_concurrency == 0
            || self.bcrypt_queue == 0
            || self.bcrypt_max_wait_ms == 0
            || self.ws_max_message_bytes == 0
            || self.ws_send_buffer == 0
            || self.ws_send_buffer_bytes == 0
            || self.ws_init_timeout_ms == 0
            || self.ws_event_buffer == 0
        {
            return Err(ConfigError::Invalid(
                "header_read_timeout_ms, body_read_timeout_ms, idle_timeout_ms, max_connections, max_connections_per_client, search_concurrency, bcrypt_queue, bcrypt_max_wait_ms, ws_max_message_bytes, ws_send_buffer, ws_send_buffer_bytes, ws_init_timeout_ms and ws_event_buffer must be positive".into(),
            ));
        }
        if self.persisted_query_ttl_secs == 0 {
            return Err(ConfigError::Invalid(
                "BOARD_PERSISTED_QUERY_TTL_SECS must be positive".into(),
            ));
        }
        if self.access_token_ttl_secs == 0 || self.refresh_token_ttl_secs == 0 {
            return Err(ConfigError::Invalid(
                "token lifetimes must be positive".into(),
            ));
        }
        Ok(())
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    pub fn is_mysql(&self) -> bool {
        self.database_url.starts_with("mysql:") || self.database_url.starts_with("mariadb:")
    }

    /// The file behind an SQLite URL, or `None` for an in-memory database.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        sqlite_file(&self.database_url)
    }

    pub fn cache_ttl(&self) -> Duration {
        Duration::from_secs(self.cache_ttl_secs)
    }

    pub fn near_cache_ttl(&self) -> Duration {
        Duration::from_millis(self.near_cache_ttl_ms)
    }

    /// The JWT signing key: configured; else, for an SQLite file, kept in `<db file>.jwt-secret` (created once);
    /// else, for in-memory SQLite, a random one for this process. MariaDB without a secret is refused, since
    /// replicas must share one key.
    pub fn resolve_jwt_secret(&self) -> Result<(Secret, SecretSource), ConfigError> {
        if let Some(secret) = &self.jwt_secret {
            return Ok((secret.clone(), SecretSource::Configured));
        }
        if !self.is_sqlite() {
            return Err(ConfigError::Invalid(
                "BOARD_JWT_SECRET is required with a MariaDB DATABASE_URL (every replica must share it); \
                 set it to a random string of at least 32 bytes, e.g. `openssl rand -hex 32`"
                    .into(),
            ));
        }
        let Some(db_path) = self.sqlite_path() else {
            return Ok((Secret::new(random_secret()), SecretSource::Ephemeral));
        };
        let mut path = db_path.into_os_string();
        path.push(".jwt-secret");
        let path = PathBuf::from(path);
        let io_err = |source| ConfigError::SecretFile {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) if text.trim().len() >= MIN_SECRET_BYTES => {
                Ok((Secret::new(text.trim()), SecretSource::LoadedFile(path)))
            }
            Ok(_) => Err(ConfigError::Invalid(format!(
                "{} holds a JWT secret shorter than {MIN_SECRET_BYTES} bytes",
                path.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secret = random_secret();
                write_private(&path, &secret).map_err(io_err)?;
                Ok((Secret::new(secret), SecretSource::GeneratedFile(path)))
            }
            Err(e) => Err(io_err(e)),
        }
    }
}

fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let config = Config {
            database_url: "mysql://board:hunter2@db:3306/board".into(),
            redis_url: Some("redis://:s3cret@cache:6379".into()),
            jwt_secret: Some(Secret::new("x".repeat(40))),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains(&"x".repeat(40)), "{shown}");
        assert!(shown.contains("mysql://board:***@db:3306/board"), "{shown}");
    }

    #[test]
    fn mysql_without_secret_is_refused_with_a_clear_message() {
        let config = Config {
            database_url: "mysql://root@localhost/board".into(),
            ..Config::default()
        };
        let err = config.resolve_jwt_secret().unwrap_err().to_string();
        assert!(err.contains("BOARD_JWT_SECRET is required"), "{err}");
    }

    #[test]
    fn sqlite_secret_is_generated_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("board-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("b.db");
        let config = Config {
            database_url: format!("sqlite://{}", db.display()),
            ..Config::default()
        };
        let (first, source) = config.resolve_jwt_secret().unwrap();
        assert!(matches!(source, SecretSource::GeneratedFile(_)));
        let (second, source) = config.resolve_jwt_secret().unwrap();
        assert!(matches!(source, SecretSource::LoadedFile(_)));
        assert_eq!(first, second);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn sqlite_paths_are_read_from_urls() {
        let with = |url: &str| Config {
            database_url: url.into(),
            ..Config::default()
        };
        assert_eq!(
            with("sqlite://board.db").sqlite_path(),
            Some(PathBuf::from("board.db"))
        );
        assert_eq!(
            with("sqlite:///tmp/x.db?mode=rwc").sqlite_path(),
            Some(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(with("sqlite::memory:").sqlite_path(), None);
    }

    #[test]
    fn short_secrets_are_refused() {
        let config = Config {
            jwt_secret: Some(Secret::new("short")),
            ..Config::default()
        };
        assert!(config.validate().is_err());
    }
}
