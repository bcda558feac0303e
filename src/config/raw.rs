//! The configuration as its keys are spelled in `board.toml` and the environment (`BOARD_<KEY>`): flat, in
//! the units the key names say. [`super::Config`] is the same in typed sections; README.md lists the keys.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{LogFormat, Secret};

/// Every configuration key with its default. Tests and embedders set keys here, as an operator would.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RawConfig {
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
    /// Base URL of an OpenTelemetry collector's OTLP/HTTP receiver (`http://collector:4318`); unset: spans
    /// are not exported (log lines still carry trace ids).
    pub otlp_endpoint: Option<String>,
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
    /// Reports (`reportContent`) per user within `login_window_secs`.
    pub reports_per_user: u64,
    /// Points (the cost of GraphQL operations) each member, and each anonymous client address, may spend
    /// per `points_window_secs`; past them operations are answered `RATE_LIMITED`.
    pub points_per_window: u64,
    /// The fixed window of the points budget.
    pub points_window_secs: u64,
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
    /// Read notifications older than this many days are deleted (unread ones stay).
    pub notification_read_ttl_days: u64,
    /// Members one fan-out writes notifications for per statement (a post watched by 10 000: 20 chunks).
    pub notification_fanout_chunk: usize,
    /// How often every process looks for outbox entries nobody finished (a crashed process's).
    pub notification_sweep_ms: u64,
}

impl Default for RawConfig {
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
            otlp_endpoint: None,
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
            reports_per_user: 20,
            points_per_window: 100_000,
            points_window_secs: 60,
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
            notification_read_ttl_days: 30,
            notification_fanout_chunk: 500,
            notification_sweep_ms: 5_000,
        }
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
