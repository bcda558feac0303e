//! Typed, layered configuration: defaults < `board.toml` (or the file named by `BOARD_CONFIG`) < environment.
//! Keys are read flat ([`RawConfig`], `BOARD_<KEY>` plus `DATABASE_URL`, `DATABASE_READ_URL`, `REDIS_URL`) and
//! handed out in typed sections ([`Config`]). This is the only module that reads the environment.

mod raw;
mod secret;
mod sections;
mod validate;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub use raw::{DEFAULT_CORS_ALLOWED_HEADERS, RawConfig};
pub use secret::{Secret, SecretUrl, redact_url, sqlite_file};
pub use sections::{
    AuthSettings, CacheSettings, DbSettings, GraphqlSettings, HttpSettings, LogSettings,
    NotificationSettings, RateLimitSettings, SearchSettings, WsSettings,
};
pub use validate::MIN_SECRET_BYTES;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

/// The whole configuration, in sections; built from [`RawConfig`] (`Config::from(raw)`).
#[derive(Debug, Clone)]
pub struct Config {
    pub http: HttpSettings,
    pub db: DbSettings,
    pub cache: CacheSettings,
    pub auth: AuthSettings,
    pub limits: RateLimitSettings,
    pub graphql: GraphqlSettings,
    pub search: SearchSettings,
    pub ws: WsSettings,
    pub log: LogSettings,
    pub notifications: NotificationSettings,
}

impl From<RawConfig> for Config {
    fn from(raw: RawConfig) -> Self {
        Self::from(&raw)
    }
}

impl From<&RawConfig> for Config {
    fn from(raw: &RawConfig) -> Self {
        Self {
            http: HttpSettings::from_raw(raw),
            db: DbSettings::from_raw(raw),
            cache: CacheSettings::from_raw(raw),
            auth: AuthSettings::from_raw(raw),
            limits: RateLimitSettings::from_raw(raw),
            graphql: GraphqlSettings::from_raw(raw),
            search: SearchSettings::from_raw(raw),
            ws: WsSettings::from_raw(raw),
            log: LogSettings::from_raw(raw),
            notifications: NotificationSettings::from_raw(raw),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::from(RawConfig::default())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("could not read configuration: {0}")]
    Load(#[from] Box<figment::Error>),
}

impl Config {
    /// Reads defaults, then `board.toml` (or `$BOARD_CONFIG`), then the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var("BOARD_CONFIG").unwrap_or_else(|_| "board.toml".into());
        Self::extract(
            defaults()
                .merge(Toml::file(file))
                .merge(Env::raw().only(&["DATABASE_URL", "DATABASE_READ_URL", "REDIS_URL"]))
                .merge(Env::prefixed("BOARD_").ignore(&["CONFIG"])),
        )
    }

    /// The flat keys of `sources`, in sections, validated.
    fn extract(sources: Figment) -> Result<Self, ConfigError> {
        let raw: RawConfig = sources.extract().map_err(Box::new)?;
        let config = Config::from(raw);
        config.validate()?;
        Ok(config)
    }
}

fn defaults() -> Figment {
    Figment::from(Serialized::defaults(RawConfig::default()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let config = Config::from(RawConfig {
            database_url: "mysql://board:hunter2@db:3306/board".into(),
            database_read_url: Some("mysql://board:hunter3@replica:3306/board".into()),
            redis_url: Some("redis://:s3cret@cache:6379".into()),
            jwt_secret: Some(Secret::new("x".repeat(40))),
            ..RawConfig::default()
        });
        let shown = format!("{config:?}");
        for secret in ["hunter2", "hunter3", "s3cret", &"x".repeat(40)] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("mysql://board:***@db:3306/board"), "{shown}");
    }

    #[test]
    fn keys_in_their_units_become_durations() {
        let config = Config::from(RawConfig {
            request_timeout_ms: 1_500,
            login_window_secs: 60,
            near_cache_ttl_ms: 0,
            ..RawConfig::default()
        });
        assert_eq!(config.graphql.request_timeout, Duration::from_millis(1_500));
        assert_eq!(config.limits.window, Duration::from_secs(60));
        assert!(config.cache.near_cache_ttl.is_zero());
        assert_eq!(config.http.shutdown_grace, Duration::from_secs(20));
    }

    #[test]
    fn the_file_uses_the_flat_keys() {
        let toml = "cache_ttl_secs = 7\nws_init_timeout_ms = 250\nbind = \"0.0.0.0:1\"\n\
                    cors_allowed_origins = [\"https://a.example\"]\n\
                    database_url = \"sqlite::memory:\"\nredis_url = \"redis://cache:6379/0\"";
        let config = Config::extract(defaults().merge(Toml::string(toml))).unwrap();
        assert_eq!(config.cache.ttl, Duration::from_secs(7));
        assert_eq!(config.ws.init_timeout, Duration::from_millis(250));
        assert_eq!(config.http.bind, "0.0.0.0:1");
        assert_eq!(config.http.cors_allowed_origins, ["https://a.example"]);
        assert_eq!(config.db.url.expose(), "sqlite::memory:");
        assert_eq!(
            config.cache.redis_url.as_ref().map(SecretUrl::expose),
            Some("redis://cache:6379/0")
        );
    }

    #[test]
    fn invalid_values_are_refused_when_read() {
        let err = Config::extract(defaults().merge(Toml::string("request_timeout_ms = 0")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("BOARD_REQUEST_TIMEOUT_MS"), "{err}");
    }
}
