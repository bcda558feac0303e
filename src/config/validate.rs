//! What a configuration must hold before anything is built from it. Messages name the keys as an operator
//! sets them (`BOARD_<KEY>`, `DATABASE_URL`).

use super::{Config, ConfigError};

/// The shortest JWT signing key accepted, configured or kept in a file.
pub const MIN_SECRET_BYTES: usize = 32;

impl Config {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        if let Some(bad) = self
            .http
            .cors_allowed_headers
            .iter()
            .find(|h| axum::http::HeaderName::from_bytes(h.as_bytes()).is_err())
        {
            return invalid(format!(
                "cors_allowed_headers: {bad:?} is not a header name"
            ));
        }
        let db = &self.db;
        if !db.is_sqlite() && !db.is_mysql() {
            return invalid(format!(
                "DATABASE_URL must start with sqlite: or mysql:/mariadb: (got {})",
                db.url.redacted()
            ));
        }
        if let Some(read) = &db.read_url {
            let same_dialect = if db.is_sqlite() {
                read.starts_with("sqlite:")
            } else {
                read.starts_with("mysql:") || read.starts_with("mariadb:")
            };
            if !same_dialect {
                return invalid(format!(
                    "DATABASE_READ_URL must be a replica of DATABASE_URL, on the same kind of database (got {})",
                    read.redacted()
                ));
            }
        }
        if let Some(endpoint) = &self.log.otlp_endpoint
            && !endpoint
                .parse::<axum::http::Uri>()
                .is_ok_and(|uri| uri.scheme_str() == Some("http") && uri.host().is_some())
        {
            return invalid(format!(
                "BOARD_OTLP_ENDPOINT must be an http:// URL of an OTLP/HTTP receiver, e.g. http://collector:4318 (got {endpoint:?})"
            ));
        }
        let auth = &self.auth;
        if let Some(secret) = &auth.jwt_secret
            && secret.expose().len() < MIN_SECRET_BYTES
        {
            return invalid(format!(
                "BOARD_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes"
            ));
        }
        if !(4..=31).contains(&auth.bcrypt_cost) {
            return invalid("BOARD_BCRYPT_COST must be 4–31".into());
        }
        if self.limits.points_per_window == 0 || self.limits.points_window.is_zero() {
            return invalid(
                "BOARD_POINTS_PER_WINDOW and BOARD_POINTS_WINDOW_SECS must be positive".into(),
            );
        }
        if self.graphql.request_timeout.is_zero() {
            return invalid("BOARD_REQUEST_TIMEOUT_MS must be positive".into());
        }
        if self.has_a_zero_bound() {
            return invalid(
                "header_read_timeout_ms, body_read_timeout_ms, idle_timeout_ms, max_connections, max_connections_per_client, search_concurrency, bcrypt_queue, bcrypt_max_wait_ms, ws_max_message_bytes, ws_send_buffer, ws_send_buffer_bytes, ws_init_timeout_ms and ws_event_buffer must be positive".into(),
            );
        }
        if self.graphql.persisted_query_ttl.is_zero() {
            return invalid("BOARD_PERSISTED_QUERY_TTL_SECS must be positive".into());
        }
        if auth.access_token_ttl.is_zero() || auth.refresh_token_ttl.is_zero() {
            return invalid("token lifetimes must be positive".into());
        }
        Ok(())
    }

    /// Whether a bound that must be positive (a timeout, a queue, a connection count) is zero.
    fn has_a_zero_bound(&self) -> bool {
        let (http, ws) = (&self.http, &self.ws);
        http.header_read_timeout.is_zero()
            || http.body_read_timeout.is_zero()
            || http.idle_timeout.is_zero()
            || http.max_connections == 0
            || http.max_connections_per_client == 0
            || self.search.concurrency == 0
            || self.auth.bcrypt_queue == 0
            || self.auth.bcrypt_max_wait.is_zero()
            || ws.max_message_bytes == 0
            || ws.send_buffer == 0
            || ws.send_buffer_bytes == 0
            || ws.init_timeout.is_zero()
            || ws.event_buffer == 0
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, RawConfig, Secret};

    fn validate(raw: RawConfig) -> Result<(), String> {
        Config::from(raw).validate().map_err(|e| e.to_string())
    }

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(validate(RawConfig::default()), Ok(()));
    }

    #[test]
    fn short_secrets_are_refused() {
        let err = validate(RawConfig {
            jwt_secret: Some(Secret::new("short")),
            ..RawConfig::default()
        });
        assert!(err.unwrap_err().contains("BOARD_JWT_SECRET"));
    }

    #[test]
    fn a_replica_of_another_kind_is_refused_without_its_password() {
        let err = validate(RawConfig {
            database_read_url: Some("mysql://board:hunter2@replica/board".into()),
            ..RawConfig::default()
        })
        .unwrap_err();
        assert!(err.contains("DATABASE_READ_URL"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn zero_bounds_are_refused() {
        let err = validate(RawConfig {
            ws_event_buffer: 0,
            ..RawConfig::default()
        });
        assert!(err.unwrap_err().contains("must be positive"));
    }

    #[test]
    fn the_otlp_endpoint_is_an_http_url() {
        let with = |endpoint: &str| {
            validate(RawConfig {
                otlp_endpoint: Some(endpoint.into()),
                ..RawConfig::default()
            })
        };
        assert_eq!(with("http://collector:4318"), Ok(()));
        assert_eq!(with("http://127.0.0.1:4318/v1/traces"), Ok(()));
        for bad in ["collector:4318", "https://collector:4318", "http://"] {
            assert!(
                with(bad).unwrap_err().contains("BOARD_OTLP_ENDPOINT"),
                "{bad}"
            );
        }
    }
}
