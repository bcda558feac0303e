use super::{db_error, is_retryable, mysql_options, violated_key};
use crate::domain::AppError;

/// A database error as a driver reports it: a SQLSTATE (or SQLite code), a message, a kind.
#[derive(Debug)]
struct Reported(&'static str, &'static str, sqlx::error::ErrorKind);

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.1)
    }
}

impl std::error::Error for Reported {}

impl sqlx::error::DatabaseError for Reported {
    fn message(&self) -> &str {
        self.1
    }
    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(self.0.into())
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }
    fn kind(&self) -> sqlx::error::ErrorKind {
        match self.2 {
            sqlx::error::ErrorKind::UniqueViolation => sqlx::error::ErrorKind::UniqueViolation,
            _ => sqlx::error::ErrorKind::Other,
        }
    }
}

fn reported(
    code: &'static str,
    message: &'static str,
    kind: sqlx::error::ErrorKind,
) -> sqlx::Error {
    sqlx::Error::Database(Box::new(Reported(code, message, kind)))
}

#[test]
fn lost_races_are_retried_and_then_unavailable_never_internal() {
    use sqlx::error::ErrorKind::{Other, UniqueViolation};
    // A Galera certification conflict surfaces as MariaDB's deadlock (1213, SQLSTATE 40001).
    let deadlock = reported(
        "40001",
        "Deadlock found when trying to get lock; try restarting transaction",
        Other,
    );
    assert!(is_retryable(&deadlock));
    assert!(matches!(db_error(deadlock), AppError::Unavailable(_)));
    let timeout = reported(
        "HY000",
        "Lock wait timeout exceeded; try restarting transaction",
        Other,
    );
    assert!(matches!(db_error(timeout), AppError::Unavailable(_)));
    // A unique key taken concurrently is retried (the retry then finds the row and says CONFLICT).
    let taken = reported(
        "23000",
        "Duplicate entry 'x' for key 'name_key'",
        UniqueViolation,
    );
    assert!(is_retryable(&taken));
    assert!(matches!(db_error(taken), AppError::Internal(_)));
    let other = reported("42000", "You have an error in your SQL syntax", Other);
    assert!(!is_retryable(&other));
    assert!(matches!(db_error(other), AppError::Internal(_)));
}

#[test]
fn a_unique_violation_is_told_by_its_key_not_by_the_duplicate_value() {
    assert_eq!(
        violated_key("Duplicate entry 'email_fan' for key 'uk_user_name_skeleton'"),
        "'uk_user_name_skeleton'"
    );
    assert_eq!(
        violated_key("Duplicate entry 'x for key y' for key 'user.uk_user_email'"),
        "'user.uk_user_email'"
    );
    assert_eq!(
        violated_key("UNIQUE constraint failed: user.name_key"),
        "user.name_key"
    );
}

#[test]
fn only_the_scheme_of_a_mariadb_url_is_rewritten() {
    // docker-compose.yml's URL: the host is the service `mariadb`.
    let options = mysql_options("mysql://board:secret@mariadb:3306/board").unwrap();
    assert_eq!(options.get_host(), "mariadb");
    assert_eq!(options.get_port(), 3306);
    assert_eq!(options.get_username(), "board");
    assert_eq!(options.get_database(), Some("board"));

    let options = mysql_options("mariadb://mariadb:mariadb@mariadb:3307/mariadb").unwrap();
    assert_eq!(options.get_host(), "mariadb");
    assert_eq!(options.get_port(), 3307);
    assert_eq!(options.get_username(), "mariadb");
    assert_eq!(options.get_database(), Some("mariadb"));

    let options = mysql_options("mariadb://board@db.internal/board").unwrap();
    assert_eq!(options.get_host(), "db.internal");
}
