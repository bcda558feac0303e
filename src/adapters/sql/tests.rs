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
fn galera_refusals_are_lost_races_never_internal() {
    use sqlx::error::ErrorKind::Other;
    // 1047: a node that is joining or has lost the cluster's quorum takes no statement.
    let not_ready = reported(
        "08S01",
        "WSREP has not yet prepared node for application use",
        Other,
    );
    assert!(is_retryable(&not_ready));
    assert!(matches!(db_error(not_ready), AppError::Unavailable(_)));
    // 1180: a commit the cluster refused.
    let refused = reported(
        "HY000",
        "Got error 6 \"No such device or address\" during COMMIT",
        Other,
    );
    assert!(is_retryable(&refused));
    assert!(matches!(db_error(refused), AppError::Unavailable(_)));
}

#[tokio::test]
async fn a_lost_race_is_tried_again_and_a_unique_key_then_answers_conflict() {
    use sqlx::error::ErrorKind::{Other, UniqueViolation};
    // The same name signed up through two Galera nodes: the loser's insert fails certification (a
    // deadlock); tried again it meets the winner's row.
    let attempts = std::sync::atomic::AtomicUsize::new(0);
    let outcome: crate::domain::AppResult<()> = super::retry_lost_races(
        "the account",
        |err| match err.as_database_error() {
            Some(db) if db.is_unique_violation() => AppError::conflict("name", "taken"),
            _ => db_error(err),
        },
        || {
            let n = attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                Err(if n == 0 {
                    reported("40001", "Deadlock found when trying to get lock", Other)
                } else {
                    reported(
                        "23000",
                        "Duplicate entry 'x' for key 'name_key'",
                        UniqueViolation,
                    )
                })
            }
        },
    )
    .await;
    assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert!(matches!(outcome, Err(AppError::Conflict { .. })));
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

/// The pool tests a connection before use only after it sat idle (`IDLE_PING`): one the server closed in
/// that time (a restart, `wait_timeout`) is replaced, and the request it was meant for never sees it.
#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL"]
async fn a_connection_closed_by_the_server_while_idle_is_replaced_before_use() {
    let url = std::env::var("TEST_DATABASE_URL")
        .expect("this test needs TEST_DATABASE_URL (`cargo test -- --include-ignored` runs it)");
    let settings = crate::config::DbSettings {
        url: crate::config::SecretUrl::new(&url),
        read_url: None,
        read_your_writes: std::time::Duration::ZERO,
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(5),
        auto_migrate: false,
    };
    let super::Db::MySql(pool) = super::Db::connect(&settings).await.unwrap() else {
        panic!("TEST_DATABASE_URL is a MariaDB URL");
    };
    let id = || sqlx::query_scalar::<_, u64>("SELECT CONNECTION_ID()").fetch_one(&pool);
    let first = id().await.unwrap();
    let killer = super::Db::connect(&settings).await.unwrap();
    let super::Db::MySql(killer) = killer else {
        unreachable!()
    };
    sqlx::query(&format!("KILL CONNECTION {first}"))
        .execute(&killer)
        .await
        .unwrap();
    tokio::time::sleep(super::IDLE_PING + std::time::Duration::from_millis(200)).await;
    let second = id()
        .await
        .expect("the dead connection was replaced before use");
    assert_ne!(first, second);
}
