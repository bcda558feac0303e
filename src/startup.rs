//! The composition root: [`App::build`] wires adapters to ports from a [`Config`], and [`App::serve`] runs
//! the HTTP server until shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::adapters::auth::{BcryptHasher, JwtTokens};
use crate::adapters::cache::{MemoryCache, RedisCache};
use crate::adapters::events::{MemoryEvents, RedisEvents};
use crate::adapters::sql::{
    Db, SqlCategoryRepo, SqlCommentRepo, SqlPostRepo, SqlPostSearch, SqlSessionRepo, SqlUserRepo,
    SqlVoteRepo,
};
use crate::app::rate_limit::{Limiter, Limits as RateLimits};
use crate::app::{AccountService, BoardService, CacheAside, ReadReplica};
use crate::config::{Config, SecretSource};
use crate::graphql::{BoardSchema, Limits, Services};
use crate::ports::{Cache, Counters, Events, SystemClock};
use crate::{app, config, graphql, http, telemetry};

/// Counters and fill guards the in-process cache holds at most.
const MEMORY_CACHE_ENTRIES: u64 = 100_000;
/// Bytes (keys and texts) of the values the in-process cache holds at most.
const MEMORY_CACHE_VALUE_BYTES: u64 = 256 * 1024 * 1024;
/// Decoded values the near cache keeps per process.
const NEAR_CACHE_ENTRIES: u64 = 50_000;
const REDIS_POOL_SIZE: usize = 4;

/// The subscription sockets of `services`, hearing `events`.
fn sockets(
    config: &Config,
    events: &Arc<dyn Events>,
    services: &Services,
) -> Arc<http::ws::Sockets> {
    let hub = graphql::subscription::hub::EventHub::start(
        events,
        &services.board,
        config.ws_event_buffer,
    );
    http::ws::Sockets::new(http::ws::Settings::from_config(config), hub)
}

/// Cache-aside over `cache`, with the near cache the configuration asks for.
fn cache_aside(config: &Config, cache: &Arc<dyn Cache>) -> CacheAside {
    CacheAside::new(Arc::clone(cache), &config.cache_prefix, config.cache_ttl())
        .with_near_cache(config.near_cache_ttl(), NEAR_CACHE_ENTRIES)
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("database {url}: {source}")]
    Database { url: String, source: sqlx::Error },
    #[error("migrations: {0}")]
    Migration(sqlx::Error),
    #[error("{0}")]
    Cache(String),
    #[error("trusted_documents: {0}")]
    TrustedDocuments(String),
    #[error("password hasher: {0}")]
    Hasher(String),
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
}

/// A wired application: adapters built from config, services on top, and the schema.
pub struct App {
    pub config: Config,
    pub db: Db,
    /// The read replica (`database_read_url`), if configured.
    pub replica: Option<Db>,
    pub cache: Arc<dyn Cache>,
    /// Where committed writes are announced to subscribers of every process.
    pub events: Arc<dyn Events>,
    pub services: Services,
    pub schema: BoardSchema,
    /// The trusted documents (`trusted_documents`), if configured: then only they run.
    pub trusted_documents: Option<Arc<app::TrustedDocuments>>,
    /// Subscription sockets (they hear `events` through a hub over `services.board`).
    pub sockets: Arc<http::ws::Sockets>,
}

impl App {
    /// Connects to the database (migrating it when configured) and the cache, and wires the services.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        config.validate()?;
        let trusted_documents = match &config.trusted_documents {
            None => None,
            Some(path) => {
                let trusted =
                    app::TrustedDocuments::load(path).map_err(StartError::TrustedDocuments)?;
                tracing::info!(path = %path.display(), documents = trusted.len(), "only the trusted documents run");
                Some(Arc::new(trusted))
            }
        };
        let (secret, source) = config.resolve_jwt_secret()?;
        match &source {
            SecretSource::Configured => {}
            SecretSource::GeneratedFile(path) => {
                tracing::info!(path = %path.display(), "generated a JWT signing key and stored it beside the database")
            }
            SecretSource::LoadedFile(path) => {
                tracing::info!(path = %path.display(), "using the JWT signing key stored beside the database")
            }
            SecretSource::Ephemeral => {
                tracing::warn!(
                    "in-memory database: JWT signing key is random and lasts for this process only"
                )
            }
        }
        telemetry::metrics::init();
        let db = Db::connect(&config)
            .await
            .map_err(|source| StartError::Database {
                url: Db::describe(&config),
                source,
            })?;
        if config.auto_migrate {
            db.migrate().await.map_err(StartError::Migration)?;
        }
        let (cache, counters, events): (Arc<dyn Cache>, Arc<dyn Counters>, Arc<dyn Events>) =
            match &config.redis_url {
                Some(url) => {
                    let redis = Arc::new(
                        RedisCache::connect(
                            url,
                            REDIS_POOL_SIZE,
                            Duration::from_millis(config.cache_timeout_ms),
                            &format!("{}:v1:invalidations", config.cache_prefix),
                        )
                        .await
                        .map_err(|e| StartError::Cache(e.to_string()))?,
                    );
                    let events = RedisEvents::connect(
                        url,
                        redis.pool(),
                        &format!("{}:v1:events", config.cache_prefix),
                        Duration::from_millis(config.cache_timeout_ms),
                    )
                    .await
                    .map_err(|e| StartError::Cache(e.to_string()))?;
                    (redis.clone(), redis, Arc::new(events))
                }
                None => {
                    let memory = Arc::new(MemoryCache::new(
                        MEMORY_CACHE_ENTRIES,
                        MEMORY_CACHE_VALUE_BYTES,
                    ));
                    (memory.clone(), memory, Arc::new(MemoryEvents::new()))
                }
            };
        {
            let (db, cache) = (db.clone(), Arc::clone(&cache));
            telemetry::metrics::observe_pools(
                Arc::new(move || db.pool_stats()),
                Arc::new(move || cache.pool_stats()),
            );
        }
        let hasher = BcryptHasher::new(
            config.bcrypt_cost,
            config.bcrypt_queue,
            std::time::Duration::from_millis(config.bcrypt_max_wait_ms),
        )
        .map_err(|e| StartError::Hasher(e.to_string()))?;
        let tokens = JwtTokens::new(
            secret.expose().as_bytes(),
            &config.jwt_issuer,
            &config.jwt_audience,
            config.access_token_ttl_secs,
        );
        let cache_aside = cache_aside(&config, &cache);
        let clock = Arc::new(SystemClock);
        let accounts = AccountService::new(
            Arc::new(SqlUserRepo::new(db.clone())),
            Arc::new(SqlSessionRepo::new(db.clone())),
            Arc::new(hasher),
            Arc::new(tokens),
            clock.clone(),
            cache_aside.clone(),
            config.refresh_token_ttl_secs,
        );
        let limiter = Arc::new(Limiter::new(
            counters,
            &config.cache_prefix,
            RateLimits {
                per_account: config.login_failures_per_account,
                per_client: config.login_failures_per_client,
                sign_ups_per_client: config.sign_ups_per_client,
                edits_per_user: config.edits_per_user,
                creates_per_user: config.creates_per_user,
                window: Duration::from_secs(config.login_window_secs),
            },
        ));
        let accounts = accounts.with_limiter(Arc::clone(&limiter));
        if let Err(err) = accounts.learn_stored_cost().await {
            tracing::warn!(error = %err, "could not read the cost of stored password hashes");
        }
        let board = BoardService::new(
            Arc::new(SqlCategoryRepo::new(db.clone())),
            Arc::new(SqlPostRepo::new(db.clone())),
            Arc::new(SqlPostSearch::new(
                db.clone(),
                config.search_statement_ms,
                config.search_concurrency,
            )),
            Arc::new(SqlCommentRepo::new(db.clone())),
            Arc::new(SqlVoteRepo::new(db.clone())),
            clock,
            cache_aside,
        )
        .with_limiter(limiter)
        .with_events(Arc::clone(&events));
        let replica = match Db::connect_replica(&config).await {
            None => None,
            Some(Ok(replica)) => Some(replica),
            Some(Err(source)) => {
                return Err(StartError::Database {
                    url: config
                        .database_read_url
                        .as_deref()
                        .map(config::redact_url)
                        .unwrap_or_default(),
                    source,
                });
            }
        };
        let board = match &replica {
            None => board,
            Some(replica) => {
                tracing::info!(
                    replica = %config.database_read_url.as_deref().map(config::redact_url).unwrap_or_default(),
                    read_your_writes_secs = config.read_your_writes_secs,
                    "lists, counts and vote lookups of queries read the replica"
                );
                board.with_replica(ReadReplica::new(
                    Arc::new(SqlPostRepo::new(replica.clone())),
                    Arc::new(SqlPostSearch::new(
                        replica.clone(),
                        config.search_statement_ms,
                        config.search_concurrency,
                    )),
                    Arc::new(SqlCommentRepo::new(replica.clone())),
                    Arc::new(SqlVoteRepo::new(replica.clone())),
                    Duration::from_secs(config.read_your_writes_secs),
                ))
            }
        };
        let services = Services {
            accounts: Arc::new(accounts),
            board: Arc::new(board),
        };
        let limits = Limits::from_config(&config);
        let schema = graphql::build_schema(Some(services.clone()), &limits);
        let sockets = sockets(&config, &events, &services);
        tracing::info!(
            database = %Db::describe(&config),
            dialect = db.dialect(),
            cache = cache.kind(),
            "board is wired"
        );
        Ok(Self {
            config,
            db,
            replica,
            cache,
            events,
            services,
            schema,
            trusted_documents,
            sockets,
        })
    }

    /// The same application over another cache (for tests of cache outages, or embedding).
    pub fn with_cache(self, cache: Arc<dyn Cache>) -> Self {
        let cache_aside = cache_aside(&self.config, &cache);
        let services = Services {
            accounts: Arc::new(self.services.accounts.with_cache(cache_aside.clone())),
            board: Arc::new(self.services.board.with_cache(cache_aside)),
        };
        let limits = Limits::from_config(&self.config);
        let schema = graphql::build_schema(Some(services.clone()), &limits);
        let sockets = sockets(&self.config, &self.events, &services);
        Self {
            cache,
            services,
            schema,
            sockets,
            ..self
        }
    }

    /// What every GraphQL operation goes through, whatever its transport (HTTP, WebSocket).
    pub fn pipeline(&self) -> graphql::pipeline::Pipeline {
        graphql::pipeline::Pipeline::new(
            self.schema.clone(),
            self.services.clone(),
            graphql::pipeline::Persisted {
                store: app::PersistedQueries::new(
                    Arc::clone(&self.cache),
                    &self.config.cache_prefix,
                    Duration::from_secs(self.config.persisted_query_ttl_secs),
                ),
                trusted: self.trusted_documents.clone(),
            },
            graphql::pipeline::Settings {
                limits: graphql::pipeline::TextLimits {
                    max_tokens: self.config.max_tokens,
                    max_aliases: self.config.max_aliases,
                    max_depth: self.config.max_depth,
                },
                request_timeout: Duration::from_millis(self.config.request_timeout_ms),
                max_response_bytes: self.config.max_response_bytes,
                persisted_get_max_age: Duration::from_secs(self.config.persisted_get_max_age_secs),
            },
        )
    }

    pub fn router(&self) -> axum::Router {
        http::router(http::AppState {
            schema: self.schema.clone(),
            services: self.services.clone(),
            db: self.db.clone(),
            replica: self.replica.clone(),
            cache: Arc::clone(&self.cache),
            sockets: Arc::clone(&self.sockets),
            events: Arc::clone(&self.events),
            max_body_bytes: self.config.max_body_bytes,
            body_read_timeout: Duration::from_millis(self.config.body_read_timeout_ms),
            graphiql: self.config.graphiql,
            round_trip_headers: self.config.round_trip_headers,
            client_ip_header: self.config.client_ip_header.clone(),
            metrics_on_main: self.config.metrics_bind.is_none(),
            max_batch: self.config.max_batch,
            cors_allowed_origins: self.config.cors_allowed_origins.clone(),
            cors_allowed_headers: self.config.cors_allowed_headers.clone(),
            pipeline: Arc::new(self.pipeline()),
        })
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests and closes the pool.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = self.router();
        if let Some(bind) = &self.config.metrics_bind {
            let metrics = tokio::net::TcpListener::bind(bind).await?;
            let app = axum::Router::new()
                .route("/metrics", axum::routing::get(http::observe::metrics_text));
            tracing::info!(address = %bind, "metrics on a listener of their own");
            tokio::spawn(async move {
                if let Err(err) = axum::serve(metrics, app).await {
                    tracing::error!(error = %err, "the metrics listener stopped");
                }
            });
        }
        // On shutdown: stop accepting, let in-flight requests finish, but no longer than the grace period.
        let (started, draining) = tokio::sync::oneshot::channel::<()>();
        let sockets = Arc::clone(&self.sockets);
        let shutdown = async move {
            shutdown.await;
            // Subscription sockets are closed with 1001 at once: their clients reconnect elsewhere.
            sockets.drain();
            let _ = started.send(());
        };
        let limits = http::serve::ConnectionLimits {
            header_read_timeout: Duration::from_millis(self.config.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(self.config.idle_timeout_ms),
            max_connections: self.config.max_connections,
            max_connections_per_client: self.config.max_connections_per_client,
        };
        let serving = http::serve::serve(listener, router, limits, shutdown);
        let grace = Duration::from_secs(self.config.shutdown_grace_secs);
        let deadline = async move {
            if draining.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let sockets = Arc::clone(&self.sockets);
        let serving = async move {
            let result = serving.await;
            sockets.drained().await;
            result
        };
        let result = tokio::select! {
            result = serving => result,
            () = deadline => {
                tracing::warn!(grace_secs = grace.as_secs(), "requests still running after the grace period; exiting");
                Ok(())
            }
        };
        self.db.close().await;
        result
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
