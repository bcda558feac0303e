//! The JWT signing key: configured, or kept in a file beside an SQLite database (created once), or random
//! for an in-memory database. MariaDB without a configured key is refused: every replica must share one.

use std::path::{Path, PathBuf};

use crate::config::{AuthSettings, DbSettings, MIN_SECRET_BYTES, Secret};

/// Where the signing key came from, so start-up can say so in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Configured,
    GeneratedFile(PathBuf),
    LoadedFile(PathBuf),
    Ephemeral,
}

#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("could not keep the generated JWT secret in {path}: {source}")]
    SecretFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The key for `auth`, over the database of `db` (see the module doc for where it comes from).
pub fn resolve_signing_key(
    auth: &AuthSettings,
    db: &DbSettings,
) -> Result<(Secret, SecretSource), SigningKeyError> {
    if let Some(secret) = &auth.jwt_secret {
        return Ok((secret.clone(), SecretSource::Configured));
    }
    if !db.is_sqlite() {
        return Err(SigningKeyError::Invalid(
            "BOARD_JWT_SECRET is required with a MariaDB DATABASE_URL (every replica must share it); \
             set it to a random string of at least 32 bytes, e.g. `openssl rand -hex 32`"
                .into(),
        ));
    }
    let Some(db_path) = db.sqlite_path() else {
        return Ok((Secret::new(random_secret()), SecretSource::Ephemeral));
    };
    let mut path = db_path.into_os_string();
    path.push(".jwt-secret");
    let path = PathBuf::from(path);
    let io_err = |source| SigningKeyError::SecretFile {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= MIN_SECRET_BYTES => {
            Ok((Secret::new(text.trim()), SecretSource::LoadedFile(path)))
        }
        Ok(_) => Err(SigningKeyError::Invalid(format!(
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

fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Creates `path` readable by its owner only, refusing to overwrite a file that appeared meanwhile.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
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
    use crate::config::{Config, RawConfig};

    fn over(database_url: String) -> Config {
        Config::from(RawConfig {
            database_url,
            ..RawConfig::default()
        })
    }

    #[test]
    fn mysql_without_secret_is_refused_with_a_clear_message() {
        let config = over("mysql://root@localhost/board".into());
        let err = resolve_signing_key(&config.auth, &config.db).unwrap_err();
        assert!(
            err.to_string().contains("BOARD_JWT_SECRET is required"),
            "{err}"
        );
    }

    #[test]
    fn sqlite_secret_is_generated_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("board-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = over(format!("sqlite://{}", dir.join("b.db").display()));
        let (first, source) = resolve_signing_key(&config.auth, &config.db).unwrap();
        assert!(matches!(source, SecretSource::GeneratedFile(_)));
        let (second, source) = resolve_signing_key(&config.auth, &config.db).unwrap();
        assert!(matches!(source, SecretSource::LoadedFile(_)));
        assert_eq!(first, second);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn in_memory_databases_get_a_key_for_the_process() {
        let config = over("sqlite::memory:".into());
        let (key, source) = resolve_signing_key(&config.auth, &config.db).unwrap();
        assert_eq!(source, SecretSource::Ephemeral);
        assert!(key.expose().len() >= MIN_SECRET_BYTES);
    }
}
