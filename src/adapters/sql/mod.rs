//! sqlx repositories for MariaDB and SQLite. One SQL text wherever the dialects agree; the pool type is
//! chosen at run time and [`on_db!`] expands one body per dialect.

mod bans;
mod categories;
mod comments;
pub mod content_html;
mod counters;
pub mod mod_log;
mod moderation;
pub mod name_skeletons;
pub(crate) mod notifications;
mod post_query;
mod posts;
mod reports;
mod saves;
pub mod search;
mod search_budget;
pub mod seed;
mod sessions;
mod text;
pub(crate) mod threads;
mod users;
mod votes;

pub(crate) use text::Text;

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{
    MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlPool, MySqlPoolOptions,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::config::{DbSettings, sqlite_file};
use crate::domain::{AppError, AppResult};

pub use bans::SqlBanRepo;
pub use categories::SqlCategoryRepo;
pub use comments::SqlCommentRepo;
pub use moderation::SqlModerationRepo;
pub use notifications::SqlNotificationRepo;
pub use posts::SqlPostRepo;
pub use reports::SqlReportRepo;
pub use saves::{SqlSaveRepo, SqlWatchRepo};
pub use search::SqlPostSearch;
pub use sessions::SqlSessionRepo;
pub use users::SqlUserRepo;
pub use votes::SqlVoteRepo;

/// A connection pool to one of the supported databases.
#[derive(Clone, Debug)]
pub enum Db {
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

/// Expands `$body` once per dialect with `$pool` bound to the concrete pool, so the same SQL text and
/// row types serve both.
macro_rules! on_db {
    // A body with `?` inside: run it as an async block so errors stay inside.
    ($db:expr, $pool:ident => async $body:block) => {
        match $db {
            $crate::adapters::sql::Db::MySql($pool) => async $body.await,
            $crate::adapters::sql::Db::Sqlite($pool) => async $body.await,
        }
    };
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::adapters::sql::Db::MySql($pool) => $body,
            $crate::adapters::sql::Db::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use on_db;

/// Binds every id of `$ids` (an iterator of `i64`) into a query that ends with `IN (`, and closes the list.
/// Callers return early on an empty list: `IN ()` is a syntax error on MariaDB.
macro_rules! push_ids {
    ($query:expr, $ids:expr) => {{
        let mut list = $query.separated(", ");
        for id in $ids {
            list.push_bind(id);
        }
        $query.push(")");
    }};
}
pub(crate) use push_ids;

static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The longest a read waits for a replica connection before the primary answers it.
const REPLICA_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

/// A MariaDB connection idle at least this long is pinged before use (see [`ping_if_idle`]).
const IDLE_PING: Duration = Duration::from_secs(1);

/// Serialises migrations across processes on MariaDB, where sqlx's own lock is a no-op.
const MIGRATION_LOCK: &str = "board_migrations";

impl Db {
    /// Opens a pool for `settings.url`; an SQLite file is created if missing.
    pub async fn connect(settings: &DbSettings) -> Result<Self, sqlx::Error> {
        let db = Self::open(settings, settings.url.expose(), false).await?;
        crate::telemetry::traces::set_database(db.dialect());
        Ok(db)
    }

    /// A pool for `settings.read_url`, if one is configured. It connects lazily, so `board` starts
    /// while the replica is down (its reads then fall back to the primary); no migrations run on it.
    pub async fn connect_replica(settings: &DbSettings) -> Option<Result<Self, sqlx::Error>> {
        let url = settings.read_url.as_ref()?;
        Some(Self::open(settings, url.expose(), true).await)
    }

    async fn open(settings: &DbSettings, url: &str, lazy: bool) -> Result<Self, sqlx::Error> {
        let mut acquire = settings.acquire_timeout;
        if lazy {
            // The replica is optional: a read waits at most this long for it before the primary answers.
            acquire = acquire.min(REPLICA_ACQUIRE_TIMEOUT);
        }
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(!lazy)
                .foreign_keys(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5));
            let in_memory = sqlite_file(url).is_none();
            let pool = if in_memory {
                // Every connection to an in-memory database is a database of its own: keep exactly one, forever.
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .acquire_timeout(acquire)
            } else {
                // No network between the pool and the file: nothing to test before use.
                SqlitePoolOptions::new()
                    .max_connections(settings.max_connections.max(1))
                    .acquire_timeout(acquire)
                    .test_before_acquire(false)
            };
            let pool = if lazy {
                pool.connect_lazy_with(options)
            } else {
                pool.connect_with(options).await?
            };
            Ok(Db::Sqlite(pool))
        } else {
            let options = mysql_options(url)?;
            let pool = MySqlPoolOptions::new()
                .max_connections(settings.max_connections.max(1))
                .acquire_timeout(acquire)
                .test_before_acquire(false)
                .before_acquire(|conn, meta| Box::pin(ping_if_idle(conn, meta.idle_for)))
                .after_connect(|conn, _| Box::pin(causal_reads(conn)));
            let pool = if lazy {
                pool.connect_lazy_with(options)
            } else {
                pool.connect_with(options).await?
            };
            Ok(Db::MySql(pool))
        }
    }

    pub fn dialect(&self) -> &'static str {
        match self {
            Db::MySql(_) => "mariadb",
            Db::Sqlite(_) => "sqlite",
        }
    }

    /// Applies pending migrations. Idempotent; on MariaDB, concurrent callers wait for one another.
    pub async fn migrate(&self) -> Result<(), sqlx::Error> {
        match self {
            Db::Sqlite(pool) => {
                SQLITE_MIGRATIONS.run(pool).await?;
                self.backfill().await
            }
            Db::MySql(pool) => {
                let mut conn = pool.acquire().await?;
                let locked: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 120)")
                    .bind(MIGRATION_LOCK)
                    .fetch_one(&mut *conn)
                    .await?;
                if locked != Some(1) {
                    return Err(sqlx::Error::Protocol(
                        "timed out waiting for another process's migrations".into(),
                    ));
                }
                let migrator = sqlx::migrate::Migrator {
                    migrations: MYSQL_MIGRATIONS.migrations.clone(),
                    ignore_missing: false,
                    locking: false,
                    no_tx: false,
                };
                let mut result = migrator.run(&mut *conn).await.map_err(sqlx::Error::from);
                if result.is_ok() {
                    // Still under the lock: replicas migrating at once do not backfill the same rows.
                    result = self.backfill().await;
                }
                let _ = sqlx::query("SELECT RELEASE_LOCK(?)")
                    .bind(MIGRATION_LOCK)
                    .execute(&mut *conn)
                    .await;
                result
            }
        }
    }

    /// What migrations leave to the application: search rows of older posts, skeletons of older names,
    /// the HTML of older versions.
    async fn backfill(&self) -> Result<(), sqlx::Error> {
        search::backfill(self).await?;
        let rendered = content_html::backfill(self).await?;
        if rendered > 0 {
            tracing::info!(
                versions = rendered,
                "rendered the HTML of existing post and comment versions"
            );
        }
        let report = name_skeletons::backfill(self).await?;
        if report.filled > 0 {
            tracing::info!(
                users = report.filled,
                "stored the name skeletons of existing users"
            );
        }
        for look_alike in &report.look_alikes {
            tracing::warn!(
                user_id = look_alike.user_id,
                looks_like = look_alike.looks_like,
                "a user's name looks like another user's; it keeps no skeleton (and nobody is renamed) \
                 until one of them changes name"
            );
        }
        for user_id in &report.too_long {
            tracing::warn!(
                user_id,
                "a user's name makes a skeleton too long to store; it keeps none until they change name"
            );
        }
        Ok(())
    }

    /// (open connections, idle connections, maximum) of the pool, for the pool gauges.
    pub fn pool_stats(&self) -> (u64, u64, u64) {
        on_db!(self, pool => (
            u64::from(pool.size()),
            pool.num_idle() as u64,
            u64::from(pool.options().get_max_connections()),
        ))
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_db!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
    }

    pub async fn close(&self) {
        on_db!(self, pool => pool.close().await)
    }

    /// A description safe for logs (no password).
    pub fn describe(settings: &DbSettings) -> String {
        settings.url.redacted()
    }
}

/// Maps a database error to the use-case error: unreachable → `Unavailable`, anything else → `Internal`.
/// Unique violations are mapped by the caller, which knows which field they concern.
pub(crate) fn db_error(err: sqlx::Error) -> AppError {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => {
            AppError::Unavailable("the database is unavailable; retry later".into())
        }
        // A deadlock or lock timeout (a Galera certification conflict surfaces as a deadlock) on a path
        // that does not retry: the client may.
        other if is_retryable(&other) && !is_unique_violation(&other) => {
            AppError::Unavailable("the data is being changed concurrently; retry".into())
        }
        other => AppError::internal(format!("database: {other}")),
    }
}

/// Tests a pooled connection before a request uses it, only if it sat idle for [`IDLE_PING`]: sqlx pings
/// every connection as it goes back to the pool anyway, so a connection in steady use was tested a moment
/// ago, and pinging it again on the way out (sqlx's default) would add a round trip to every checkout.
/// A connection that does not answer is dropped (an error here closes it without a goodbye) and the pool
/// opens another.
async fn ping_if_idle(conn: &mut MySqlConnection, idle: Duration) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    if idle < IDLE_PING {
        return Ok(true);
    }
    conn.ping().await.map(|()| true)
}

/// On a Galera node, makes every read of the connection (and every transaction's start) first wait until
/// the node has applied every write the cluster committed before it (`wsrep_sync_wait`, bit 1; stronger
/// settings are kept). Without it a write acknowledged through one node may not be visible yet through
/// another, and a cache fill there would store the row as it was before the write (docs/galera.md).
/// Elsewhere (`wsrep_on` off) nothing changes; a server without the variable (not MariaDB) is left alone.
async fn causal_reads(conn: &mut MySqlConnection) -> Result<(), sqlx::Error> {
    let set = sqlx::query(
        "SET SESSION wsrep_sync_wait = IF(@@wsrep_on, @@wsrep_sync_wait | 1, @@wsrep_sync_wait)",
    )
    .execute(conn)
    .await;
    match set {
        Err(err) if mysql_number(&err) == Some(ER_UNKNOWN_SYSTEM_VARIABLE) => Ok(()),
        other => other.map(|_| ()),
    }
}

/// MariaDB error numbers that tell a lost race or a cluster node that cannot take the statement now.
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
/// Also how Galera reports a transaction that failed certification or was aborted by a replicated one.
const ER_LOCK_DEADLOCK: u16 = 1213;
/// Galera: "Got error … during COMMIT", a commit the cluster refused.
const ER_ERROR_DURING_COMMIT: u16 = 1180;
/// Galera: "WSREP has not yet prepared node for application use" (the node is joining, or has lost the
/// cluster's quorum).
const ER_UNKNOWN_COM_ERROR: u16 = 1047;
const ER_UNKNOWN_SYSTEM_VARIABLE: u16 = 1193;

/// The MariaDB error number of a database error, if it is one.
fn mysql_number(err: &sqlx::Error) -> Option<u16> {
    err.as_database_error()?
        .try_downcast_ref::<MySqlDatabaseError>()
        .map(MySqlDatabaseError::number)
}

/// The one row an autocommit `INSERT … RETURNING` answered, from `fetch_all`. The whole answer is read, not
/// just its first row: on Galera an autocommit statement is certified after its rows were sent, and a
/// refusal (1213) follows them — `fetch_one` would hand back the id of an insert that never happened (and the
/// error would surface only when the pool tests the connection). Inside a transaction the refusal comes at
/// `COMMIT`, so `fetch_one` is enough there.
pub(crate) fn returned<T>(rows: Vec<T>) -> Result<T, sqlx::Error> {
    rows.into_iter().next().ok_or(sqlx::Error::RowNotFound)
}

/// Attempts for a write that lost a race (deadlock, busy database, or a unique key taken concurrently).
const WRITE_ATTEMPTS: usize = 5;

/// Runs a write transaction, again when it lost a race, at most `WRITE_ATTEMPTS` times; one round trip
/// is counted per attempt. `what` names the row for the error when every attempt lost.
pub(crate) async fn with_retries<T, F, Fut>(what: &str, attempt: F) -> AppResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    retrying(what, is_retryable, db_error, attempt).await
}

/// As [`with_retries`], for a write whose other errors mean something to the client (a unique key, a
/// missing parent): only a lost race — a deadlock, a lock timeout, a busy database, a Galera certification
/// conflict — is tried again; any other error goes to `map`.
pub(crate) async fn retry_lost_races<T, F, Fut>(
    what: &str,
    map: fn(sqlx::Error) -> AppError,
    attempt: F,
) -> AppResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let lost_race = |err: &sqlx::Error| is_retryable(err) && !is_unique_violation(err);
    retrying(what, lost_race, map, attempt).await
}

async fn retrying<T, F, Fut>(
    what: &str,
    again: impl Fn(&sqlx::Error) -> bool,
    map: fn(sqlx::Error) -> AppError,
    mut attempt: F,
) -> AppResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    for n in 1..=WRITE_ATTEMPTS {
        let _trip = crate::request::count_db();
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) if n < WRITE_ATTEMPTS && again(&err) => {
                // A random pause, longer each time, so the writers that deadlocked do not meet again.
                let pause = rand::random_range(1..=5 * n as u64);
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            Err(err) => return Err(map(err)),
        }
    }
    Err(AppError::Unavailable(format!(
        "{what} is being changed concurrently; retry"
    )))
}

/// Whether a failed write lost a race and may simply be tried again: a deadlock or lock timeout on MariaDB,
/// a Galera certification failure (reported as a deadlock or a refused commit) or a node not ready for
/// statements, a busy database on SQLite, or a unique key taken by a concurrent writer.
pub(crate) fn is_retryable(err: &sqlx::Error) -> bool {
    let Some(db) = err.as_database_error() else {
        return false;
    };
    if db.is_unique_violation() {
        return true;
    }
    if matches!(
        mysql_number(err),
        Some(
            ER_LOCK_DEADLOCK | ER_LOCK_WAIT_TIMEOUT | ER_ERROR_DURING_COMMIT | ER_UNKNOWN_COM_ERROR
        )
    ) {
        return true;
    }
    // By SQLSTATE and message where the number is not at hand. MariaDB: 1213 deadlock, 1205 lock wait
    // timeout (40001 / HY000), 1047 (08S01) and 1180 (HY000) from Galera. SQLite: 5 busy, 6 locked, 517 busy
    // snapshot.
    let message = db.message();
    matches!(
        db.code().as_deref(),
        Some("40001") | Some("08S01") | Some("5") | Some("6") | Some("517")
    ) || message.contains("Deadlock")
        || message.contains("Lock wait timeout")
        || message.contains("WSREP has not yet prepared node")
        || message.contains("during COMMIT")
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.is_unique_violation())
}

/// What a unique violation names: the key on MariaDB ("Duplicate entry '…' for key 'uk_user_email'"), the
/// columns on SQLite ("UNIQUE constraint failed: user.email"). The rest of the message is the duplicate
/// value — user data, which must not decide which field is reported.
pub(crate) fn unique_violation_target(err: &sqlx::Error) -> Option<String> {
    let db = err.as_database_error()?;
    if !db.is_unique_violation() {
        return None;
    }
    Some(violated_key(db.message()).to_owned())
}

fn violated_key(message: &str) -> &str {
    match message.rsplit_once(" for key ") {
        Some((_, key)) => key,
        None => message
            .split_once("constraint failed: ")
            .map_or(message, |(_, columns)| columns),
    }
}

/// Connect options for a `mysql://` or `mariadb://` URL. Only the scheme is rewritten: a host, user or
/// database that happens to be called `mariadb` (as the compose service is) stays as it is.
fn mysql_options(url: &str) -> Result<MySqlConnectOptions, sqlx::Error> {
    let url = match url.strip_prefix("mariadb:") {
        Some(rest) => format!("mysql:{rest}"),
        None => url.to_owned(),
    };
    Ok(MySqlConnectOptions::from_str(&url)?.charset("utf8mb4"))
}

#[cfg(test)]
mod tests;
