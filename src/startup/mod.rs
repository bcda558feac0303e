//! The composition root: [`App::build`] wires adapters to ports from a [`Config`], and [`App::serve`] runs
//! the HTTP server until shutdown.

use std::sync::Arc;

use crate::adapters::auth::{BcryptHasher, JwtTokens};
use crate::adapters::auth::{SecretSource, SigningKeyError, resolve_signing_key};
use crate::adapters::cache::MemoryCache;
use crate::adapters::events::MemoryEvents;
use crate::adapters::sql::{
    Db, SqlBanRepo, SqlCategoryRepo, SqlCommentRepo, SqlModerationRepo, SqlNotificationRepo,
    SqlPostRepo, SqlPostSearch, SqlReportRepo, SqlSaveRepo, SqlSessionRepo, SqlUserRepo,
    SqlVoteRepo, SqlWatchRepo,
};
use crate::app::rate_limit::{Limiter, Limits as RateLimits};
use crate::app::{
    AccountPorts, AccountService, BoardRepos, BoardService, CacheAside, InboxPorts, InboxService,
    ReadReplica, TrustRepos, TrustService,
};
use crate::config::Config;
use crate::graphql::{BoardSchema, Limits, Services};
use crate::ports::{Cache, Counters, Events, SystemClock};
use crate::{app, config, graphql, http, telemetry};

mod redis;
mod serve;

pub use serve::shutdown_signal;

/// Counters and fill guards the in-process cache holds at most.
const MEMORY_CACHE_ENTRIES: u64 = 100_000;
/// Bytes (keys and texts) of the values the in-process cache holds at most.
const MEMORY_CACHE_VALUE_BYTES: u64 = 256 * 1024 * 1024;
/// Decoded values the near cache keeps per process.
const NEAR_CACHE_ENTRIES: u64 = 50_000;

/// The subscription sockets of `services`, hearing `events`.
fn sockets(
    config: &Config,
    events: &Arc<dyn Events>,
    services: &Services,
) -> Arc<http::ws::Sockets> {
    let hub = graphql::subscription::hub::EventHub::start(
        events,
        &services.board,
        &services.trust,
        &services.inbox,
        config.ws.event_buffer,
    );
    http::ws::Sockets::new(config.ws.clone(), hub)
}

/// Search over `db`, within the configured statement budget and concurrency.
fn search(db: Db, config: &Config) -> SqlPostSearch {
    let budget_ms = u64::try_from(config.search.statement_budget.as_millis()).unwrap_or(u64::MAX);
    SqlPostSearch::new(db, budget_ms, config.search.concurrency)
}

/// Cache-aside over `cache`, with the near cache the configuration asks for.
fn inbox_settings(config: &Config) -> app::InboxSettings {
    app::InboxSettings {
        read_ttl: config.notifications.read_ttl,
        fanout_chunk: config.notifications.fanout_chunk,
        sweep: config.notifications.sweep,
    }
}

fn cache_aside(config: &Config, cache: &Arc<dyn Cache>) -> CacheAside {
    CacheAside::new(Arc::clone(cache), &config.cache.prefix, config.cache.ttl)
        .with_near_cache(config.cache.near_cache_ttl, NEAR_CACHE_ENTRIES)
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    SigningKey(#[from] SigningKeyError),
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
    pub async fn build(config: impl Into<Config>) -> Result<Self, StartError> {
        let config: Config = config.into();
        config.validate()?;
        let trusted_documents = match &config.graphql.trusted_documents {
            None => None,
            Some(path) => {
                let trusted =
                    app::TrustedDocuments::load(path).map_err(StartError::TrustedDocuments)?;
                tracing::info!(path = %path.display(), documents = trusted.len(), "only the trusted documents run");
                Some(Arc::new(trusted))
            }
        };
        let (secret, source) = resolve_signing_key(&config.auth, &config.db)?;
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
        let db = Db::connect(&config.db)
            .await
            .map_err(|source| StartError::Database {
                url: Db::describe(&config.db),
                source,
            })?;
        if config.db.auto_migrate {
            db.migrate().await.map_err(StartError::Migration)?;
        }
        let (cache, counters, events): (Arc<dyn Cache>, Arc<dyn Counters>, Arc<dyn Events>) =
            match &config.cache.redis_url {
                Some(url) => {
                    let (redis, events) =
                        redis::connect(url.expose(), &config.cache.prefix, config.cache.timeout)
                            .await?;
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
        let auth = &config.auth;
        let hasher = BcryptHasher::new(auth.bcrypt_cost, auth.bcrypt_queue, auth.bcrypt_max_wait)
            .map_err(|e| StartError::Hasher(e.to_string()))?;
        let tokens = JwtTokens::new(
            secret.expose().as_bytes(),
            &auth.jwt_issuer,
            &auth.jwt_audience,
            auth.access_token_ttl.as_secs(),
        );
        let cache_aside = cache_aside(&config, &cache);
        let clock = Arc::new(SystemClock);
        let outbox = app::OutboxWake::default();
        let limiter = Arc::new(
            Limiter::new(
                counters,
                // While the shared counters fail, the same limits count in this process.
                Arc::new(MemoryCache::new(MEMORY_CACHE_ENTRIES, 0)),
                &config.cache.prefix,
                RateLimits {
                    per_account: config.limits.login_failures_per_account,
                    per_client: config.limits.login_failures_per_client,
                    sign_ups_per_client: config.limits.sign_ups_per_client,
                    edits_per_user: config.limits.edits_per_user,
                    creates_per_user: config.limits.creates_per_user,
                    reports_per_user: config.limits.reports_per_user,
                    window: config.limits.window,
                    points_per_window: config.limits.points_per_window,
                    points_window: config.limits.points_window,
                },
            )
            .points_counted_apart(Arc::new(MemoryCache::new(MEMORY_CACHE_ENTRIES, 0))),
        );
        let accounts = AccountService::new(
            AccountPorts {
                users: Arc::new(SqlUserRepo::new(db.clone())),
                sessions: Arc::new(SqlSessionRepo::new(db.clone())),
                hasher: Arc::new(hasher),
                tokens: Arc::new(tokens),
                clock: clock.clone(),
                events: Arc::clone(&events),
            },
            cache_aside.clone(),
            Arc::clone(&limiter),
            auth.refresh_token_ttl,
            outbox.clone(),
        );
        if let Err(err) = accounts.learn_stored_cost().await {
            tracing::warn!(error = %err, "could not read the cost of stored password hashes");
        }
        let board = BoardService::new(
            BoardRepos {
                categories: Arc::new(SqlCategoryRepo::new(db.clone())),
                posts: Arc::new(SqlPostRepo::new(db.clone())),
                search: Arc::new(search(db.clone(), &config)),
                comments: Arc::new(SqlCommentRepo::new(db.clone())),
                votes: Arc::new(SqlVoteRepo::new(db.clone())),
                moderation: Arc::new(SqlModerationRepo::new(db.clone())),
                saves: Arc::new(SqlSaveRepo::new(db.clone())),
                watches: Arc::new(SqlWatchRepo::new(db.clone())),
            },
            clock.clone(),
            cache_aside.clone(),
            Arc::clone(&limiter),
            Arc::clone(&events),
            outbox.clone(),
        );
        let replica = match Db::connect_replica(&config.db).await {
            None => None,
            Some(Ok(replica)) => Some(replica),
            Some(Err(source)) => {
                return Err(StartError::Database {
                    url: config
                        .db
                        .read_url
                        .as_ref()
                        .map(config::SecretUrl::redacted)
                        .unwrap_or_default(),
                    source,
                });
            }
        };
        let board = match &replica {
            None => board,
            Some(replica) => {
                tracing::info!(
                    replica = %config.db.read_url.as_ref().map(config::SecretUrl::redacted).unwrap_or_default(),
                    read_your_writes_secs = config.db.read_your_writes.as_secs(),
                    "lists, counts and vote lookups of queries read the replica"
                );
                board.with_replica(ReadReplica::new(
                    Arc::new(SqlPostRepo::new(replica.clone())),
                    Arc::new(search(replica.clone(), &config)),
                    Arc::new(SqlCommentRepo::new(replica.clone())),
                    Arc::new(SqlVoteRepo::new(replica.clone())),
                    config.db.read_your_writes,
                ))
            }
        };
        let (accounts, board) = (Arc::new(accounts), Arc::new(board));
        let trust = TrustService::new(
            TrustRepos {
                bans: Arc::new(SqlBanRepo::new(db.clone())),
                reports: Arc::new(SqlReportRepo::new(db.clone())),
            },
            Arc::clone(&accounts),
            Arc::clone(&board),
            clock.clone(),
            Arc::clone(&limiter),
            outbox.clone(),
        );
        let inbox = InboxService::new(
            InboxPorts {
                notifications: Arc::new(SqlNotificationRepo::new(db.clone())),
                events: Arc::clone(&events),
                clock,
            },
            Arc::clone(&accounts),
            Arc::clone(&board),
            cache_aside,
            inbox_settings(&config),
            outbox,
        );
        let services = Services {
            accounts,
            board,
            trust: Arc::new(trust),
            inbox: Arc::new(inbox),
            limiter,
        };
        let limits = Limits::from_config(&config);
        let schema = graphql::build_schema(Some(services.clone()), &limits);
        let sockets = sockets(&config, &events, &services);
        tracing::info!(
            database = %Db::describe(&config.db),
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
        let accounts = Arc::new(self.services.accounts.with_cache(cache_aside.clone()));
        let board = Arc::new(self.services.board.with_cache(cache_aside.clone()));
        let trust = Arc::new(
            self.services
                .trust
                .with_services(Arc::clone(&accounts), Arc::clone(&board)),
        );
        let inbox = Arc::new(self.services.inbox.with_services(
            Arc::clone(&accounts),
            Arc::clone(&board),
            cache_aside,
        ));
        let services = Services {
            accounts,
            board,
            trust,
            inbox,
            limiter: Arc::clone(&self.services.limiter),
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
                    &self.config.cache.prefix,
                    self.config.graphql.persisted_query_ttl,
                ),
                trusted: self.trusted_documents.clone(),
            },
            graphql::pipeline::Settings {
                limits: graphql::pipeline::TextLimits {
                    max_tokens: self.config.graphql.max_tokens,
                    max_aliases: self.config.graphql.max_aliases,
                    max_depth: self.config.graphql.max_depth,
                },
                request_timeout: self.config.graphql.request_timeout,
                max_response_bytes: self.config.graphql.max_response_bytes,
                persisted_get_max_age: self.config.graphql.persisted_get_max_age,
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
            http: self.config.http.clone(),
            pipeline: Arc::new(self.pipeline()),
        })
    }
}
