//! The typed sections of [`super::Config`], each built from the flat keys of [`RawConfig`]: durations as
//! `Duration`, URLs and keys behind redacting types. The keys' meanings are documented on [`RawConfig`].

use std::path::PathBuf;
use std::time::Duration;

use super::{LogFormat, RawConfig, Secret, SecretUrl, sqlite_file};

/// The HTTP listener, its connections, and what the edge serves (`bind`, `max_body_bytes`, `*_timeout_ms`,
/// `max_connections*`, `graphiql`, `cors_*`, `max_batch`, …).
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub bind: String,
    pub max_body_bytes: usize,
    /// The whole request body must arrive within this.
    pub body_read_timeout: Duration,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    /// Operations in one batched request.
    pub max_batch: usize,
    pub graphiql: bool,
    pub round_trip_headers: bool,
    /// A header set by a trusted reverse proxy naming the client (e.g. `x-forwarded-for`).
    pub client_ip_header: Option<String>,
    /// `/metrics` on a listener of its own; unset: on the main one.
    pub metrics_bind: Option<String>,
    /// Origins allowed to call the API from a browser (CORS); empty: none.
    pub cors_allowed_origins: Vec<String>,
    /// Request headers such a browser may send.
    pub cors_allowed_headers: Vec<String>,
    pub shutdown_grace: Duration,
}

/// The database and its read replica (`database_url`, `database_read_url`, `db_*`, `auto_migrate`).
#[derive(Debug, Clone)]
pub struct DbSettings {
    pub url: SecretUrl,
    pub read_url: Option<SecretUrl>,
    /// How long after a mutation its viewer's reads stay on the primary.
    pub read_your_writes: Duration,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub auto_migrate: bool,
}

impl DbSettings {
    pub fn is_sqlite(&self) -> bool {
        self.url.starts_with("sqlite:")
    }

    pub fn is_mysql(&self) -> bool {
        self.url.starts_with("mysql:") || self.url.starts_with("mariadb:")
    }

    /// The file behind an SQLite URL, or `None` for an in-memory database.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        sqlite_file(self.url.expose())
    }
}

/// The shared cache and the near cache in front of it (`redis_url`, `cache_*`, `near_cache_ttl_ms`).
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Unset: the in-process cache.
    pub redis_url: Option<SecretUrl>,
    /// First segment of every cache key.
    pub prefix: String,
    pub ttl: Duration,
    /// Zero: no near cache.
    pub near_cache_ttl: Duration,
    /// Bound on every cache command.
    pub timeout: Duration,
}

/// Tokens and password hashing (`jwt_*`, `*_token_ttl_secs`, `bcrypt_*`).
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Unset: kept beside an SQLite file, or refused with MariaDB (see `adapters::auth::signing_key`).
    pub jwt_secret: Option<Secret>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub bcrypt_cost: u32,
    pub bcrypt_queue: usize,
    pub bcrypt_max_wait: Duration,
}

/// Per-account, per-client and per-user limits, all counted over one window (`login_window_secs`).
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    pub login_failures_per_account: u64,
    pub login_failures_per_client: u64,
    pub sign_ups_per_client: u64,
    pub edits_per_user: u64,
    pub creates_per_user: u64,
    pub reports_per_user: u64,
    pub window: Duration,
    /// The points budget of GraphQL operations (its own fixed window).
    pub points_per_window: u64,
    pub points_window: Duration,
}

/// What one GraphQL operation may be and take (`max_*`, `introspection`, `request_timeout_ms`,
/// `persisted_*`, `trusted_documents`).
#[derive(Debug, Clone)]
pub struct GraphqlSettings {
    pub introspection: bool,
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_directives: usize,
    pub max_aliases: usize,
    pub max_tokens: usize,
    pub max_response_bytes: usize,
    pub request_timeout: Duration,
    pub persisted_query_ttl: Duration,
    /// Zero: a persisted GET is never cacheable.
    pub persisted_get_max_age: Duration,
    /// Unset: any operation runs.
    pub trusted_documents: Option<PathBuf>,
}

/// Search statements: their budget per request and how many run at once (`search_*`).
#[derive(Debug, Clone)]
pub struct SearchSettings {
    pub statement_budget: Duration,
    pub concurrency: usize,
}

/// Subscription sockets (`ws_*`).
#[derive(Debug, Clone)]
pub struct WsSettings {
    pub subscriptions_per_connection: usize,
    pub connections_per_client: usize,
    pub max_message_bytes: usize,
    pub send_buffer: usize,
    pub send_buffer_bytes: usize,
    pub init_timeout: Duration,
    /// Pings at this interval, kept under half the idle timeout (at least 100 ms).
    pub keepalive: Duration,
    /// How often a socket checks that its user may still act (at least 1 s).
    pub recheck: Duration,
    pub event_buffer: usize,
}

/// The notification inbox and its fan-out (`notification_*`).
#[derive(Debug, Clone)]
pub struct NotificationSettings {
    pub read_ttl: Duration,
    /// At least 1, at most 1 000 (the statement's binds stay under every database's limit).
    pub fanout_chunk: usize,
    /// At least 100 ms.
    pub sweep: Duration,
}

impl NotificationSettings {
    pub(super) fn from_raw(raw: &RawConfig) -> Self {
        Self {
            read_ttl: Duration::from_secs(raw.notification_read_ttl_days.saturating_mul(86_400)),
            fanout_chunk: raw.notification_fanout_chunk.clamp(1, 1_000),
            sweep: Duration::from_millis(raw.notification_sweep_ms).max(Duration::from_millis(100)),
        }
    }
}

/// Where log lines and spans go (`log_format`, `logstash_addr`, `otlp_endpoint`).
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    pub logstash_addr: Option<String>,
    pub otlp_endpoint: Option<String>,
}

impl HttpSettings {
    pub(super) fn from_raw(raw: &RawConfig) -> Self {
        Self {
            bind: raw.bind.clone(),
            max_body_bytes: raw.max_body_bytes,
            body_read_timeout: Duration::from_millis(raw.body_read_timeout_ms),
            header_read_timeout: Duration::from_millis(raw.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(raw.idle_timeout_ms),
            max_connections: raw.max_connections,
            max_connections_per_client: raw.max_connections_per_client,
            max_batch: raw.max_batch,
            graphiql: raw.graphiql,
            round_trip_headers: raw.round_trip_headers,
            client_ip_header: raw.client_ip_header.clone(),
            metrics_bind: raw.metrics_bind.clone(),
            cors_allowed_origins: raw.cors_allowed_origins.clone(),
            cors_allowed_headers: raw.cors_allowed_headers.clone(),
            shutdown_grace: Duration::from_secs(raw.shutdown_grace_secs),
        }
    }
}

impl DbSettings {
    pub(super) fn from_raw(raw: &RawConfig) -> Self {
        Self {
            url: SecretUrl::new(&raw.database_url),
            read_url: raw.database_read_url.as_deref().map(SecretUrl::new),
            read_your_writes: Duration::from_secs(raw.read_your_writes_secs),
            max_connections: raw.db_max_connections,
            acquire_timeout: Duration::from_millis(raw.db_acquire_timeout_ms),
            auto_migrate: raw.auto_migrate,
        }
    }
}

impl CacheSettings {
    pub(super) fn from_raw(raw: &RawConfig) -> Self {
        Self {
            redis_url: raw.redis_url.as_deref().map(SecretUrl::new),
            prefix: raw.cache_prefix.clone(),
            ttl: Duration::from_secs(raw.cache_ttl_secs),
            near_cache_ttl: Duration::from_millis(raw.near_cache_ttl_ms),
            timeout: Duration::from_millis(raw.cache_timeout_ms),
        }
    }
}

impl AuthSettings {
    pub(super) fn from_raw(raw: &RawConfig) -> Self {
        Self {
            jwt_secret: raw.jwt_secret.clone(),
            jwt_issuer: raw.jwt_issuer.clone(),
            jwt_audience: raw.jwt_audience.clone(),
            access_token_ttl: Duration::from_secs(raw.access_token_ttl_secs),
            refresh_token_ttl: Duration::from_secs(raw.refresh_token_ttl_secs),
            bcrypt_cost: raw.bcrypt_cost,
            bcrypt_queue: raw.bcrypt_queue,
            bcrypt_max_wait: Duration::from_millis(raw.bcrypt_max_wait_ms),
        }
    }
}

impl RateLimitSettings {
    pub(super) fn from_raw(raw: &RawConfig) -> Self {
        Self {
            login_failures_per_account: raw.login_failures_per_account,
            login_failures_per_client: raw.login_failures_per_client,
            sign_ups_per_client: raw.sign_ups_per_client,
            edits_per_user: raw.edits_per_user,
            creates_per_user: raw.creates_per_user,
            reports_per_user: raw.reports_per_user,
            window: Duration::from_secs(raw.login_window_secs),
            points_per_window: raw.points_per_window,
            points_window: Duration::from_secs(raw.points_window_secs),
        }
    }
}

impl GraphqlSettings {
    pub(super) fn from_raw(raw: &RawConfig) -> Self {
        Self {
            introspection: raw.introspection,
            max_depth: raw.max_depth,
            max_complexity: raw.max_complexity,
            max_directives: raw.max_directives,
            max_aliases: raw.max_aliases,
            max_tokens: raw.max_tokens,
            max_response_bytes: raw.max_response_bytes,
            request_timeout: Duration::from_millis(raw.request_timeout_ms),
            persisted_query_ttl: Duration::from_secs(raw.persisted_query_ttl_secs),
            persisted_get_max_age: Duration::from_secs(raw.persisted_get_max_age_secs),
            trusted_documents: raw.trusted_documents.clone(),
        }
    }
}

impl SearchSettings {
    pub(super) fn from_raw(raw: &RawConfig) -> Self {
        Self {
            statement_budget: Duration::from_millis(raw.search_statement_ms),
            concurrency: raw.search_concurrency,
        }
    }
}

impl WsSettings {
    pub(super) fn from_raw(raw: &RawConfig) -> Self {
        Self {
            subscriptions_per_connection: raw.ws_subscriptions_per_connection,
            connections_per_client: raw.ws_connections_per_client,
            max_message_bytes: raw.ws_max_message_bytes,
            send_buffer: raw.ws_send_buffer,
            send_buffer_bytes: raw.ws_send_buffer_bytes,
            init_timeout: Duration::from_millis(raw.ws_init_timeout_ms),
            // A socket must hear from its client more often than the idle timeout; pongs to these pings do.
            keepalive: Duration::from_secs(raw.ws_keepalive_secs)
                .min(Duration::from_millis(raw.idle_timeout_ms) / 2)
                .max(Duration::from_millis(100)),
            recheck: Duration::from_secs(raw.ws_recheck_secs).max(Duration::from_secs(1)),
            event_buffer: raw.ws_event_buffer,
        }
    }
}

impl LogSettings {
    pub(super) fn from_raw(raw: &RawConfig) -> Self {
        Self {
            format: raw.log_format,
            logstash_addr: raw.logstash_addr.clone(),
            otlp_endpoint: raw.otlp_endpoint.clone().filter(|e| !e.trim().is_empty()),
        }
    }
}
