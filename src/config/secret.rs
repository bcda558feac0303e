//! Values that must never reach a log: a secret shown as `***`, and URLs whose password is shown as `***`.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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

/// A connection URL that may carry a password: `Debug` and [`SecretUrl::redacted`] show it as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL itself, password included: only for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password replaced by `***`, for logs and errors.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }

    pub fn starts_with(&self, scheme: &str) -> bool {
        self.0.starts_with(scheme)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.redacted(), f)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_show_no_password() {
        let url = SecretUrl::new("mysql://board:hunter2@db:3306/board");
        assert_eq!(url.redacted(), "mysql://board:***@db:3306/board");
        assert_eq!(format!("{url:?}"), "\"mysql://board:***@db:3306/board\"");
        assert_eq!(url.expose(), "mysql://board:hunter2@db:3306/board");
        assert_eq!(
            redact_url("mysql://board:pw@[bad"),
            "<unparseable url with credentials>"
        );
        assert_eq!(redact_url("sqlite://board.db"), "sqlite://board.db");
    }

    #[test]
    fn secrets_show_stars() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "***");
    }

    #[test]
    fn sqlite_paths_are_read_from_urls() {
        assert_eq!(
            sqlite_file("sqlite://board.db"),
            Some(PathBuf::from("board.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///tmp/x.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("mysql://db/board"), None);
    }
}
