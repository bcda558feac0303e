//! `database_read_url`: lists, counts and vote lookups of queries read the replica; mutations, cache fills and
//! a viewer who just wrote read the primary; a replica that fails is answered by the primary.
//!
//! The "replica" is a snapshot of the primary taken once (SQLite: `VACUUM INTO`; MariaDB: a copy of every
//! table), so it lags from then on, forever: whatever a read sees tells which database answered it.

use std::str::FromStr;
use std::time::Duration;

use crate::helpers::{Backend, Cleanup, Session, TestApp, unique};
use serde_json::{Value, json};
use sqlx::Connection;

const FENCE_SECS: u64 = 2;

/// A search: its page and its count are uncached reads (the newest list's first page and the category
/// totals are served from the cache and counters, filled from the primary, so they never reach a replica).
const LIST: &str =
    r#"{ posts(search: "snapshot", first: 20) { totalCount edges { node { title } } } }"#;

/// A fresh URL for a replica (nothing created yet), and what removes it at the end.
fn replica_url(backend: Backend) -> (String, Cleanup) {
    match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("{}.db", unique("board-replica-")));
            (format!("sqlite://{}", path.display()), Cleanup::File(path))
        }
        Backend::MariaDb => {
            let admin_url = std::env::var("TEST_DATABASE_URL").unwrap();
            let name = unique("board_t_");
            let mut url = url::Url::from_str(&admin_url).unwrap();
            url.set_path(&name);
            (url.to_string(), Cleanup::Database { admin_url, name })
        }
    }
}

/// Copies the primary as it is now into the replica's (new) database.
async fn snapshot(primary: &TestApp, replica: &str) {
    match primary.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&primary.config.database_url)
                .await
                .unwrap();
            let path = replica.trim_start_matches("sqlite://");
            sqlx::query(&format!("VACUUM INTO '{path}'"))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        Backend::MariaDb => {
            let source = url::Url::from_str(&primary.config.database_url).unwrap();
            let source = source.path().trim_start_matches('/').to_owned();
            let target = url::Url::from_str(replica).unwrap();
            let target = target.path().trim_start_matches('/').to_owned();
            let mut conn = sqlx::MySqlConnection::connect(&primary.config.database_url)
                .await
                .unwrap();
            sqlx::query(&format!(
                "CREATE DATABASE `{target}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            ))
            .execute(&mut conn)
            .await
            .unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = ?",
            )
            .bind(&source)
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for table in tables {
                // Generated columns (category.root_name) are computed, not copied.
                let columns: String = sqlx::query_scalar(
                    "SELECT CAST(GROUP_CONCAT(CONCAT('`', column_name, '`') ORDER BY ordinal_position) AS CHAR) \
                     FROM information_schema.columns WHERE table_schema = ? AND table_name = ? AND is_generated = 'NEVER'",
                )
                .bind(&source)
                .bind(&table)
                .fetch_one(&mut conn)
                .await
                .unwrap();
                for statement in [
                    format!("CREATE TABLE `{target}`.`{table}` LIKE `{source}`.`{table}`"),
                    format!(
                        "INSERT INTO `{target}`.`{table}` ({columns}) SELECT {columns} FROM `{source}`.`{table}`"
                    ),
                ] {
                    sqlx::query(&statement).execute(&mut conn).await.unwrap();
                }
            }
        }
    }
}

async fn first_category(app: &TestApp) -> String {
    app.first_category().await
}

async fn create_post(app: &TestApp, who: &Session, category: &str, title: &str) -> String {
    app.create_post(&who.access, category, title, "body").await
}

/// (totalCount, titles) of the newest posts as `who` sees them.
async fn list(app: &TestApp, who: Option<&Session>) -> (i64, Vec<String>) {
    let data = app
        .ok(LIST, json!({}), who.map(|s| s.access.as_str()))
        .await;
    let titles = data["posts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect();
    (data["posts"]["totalCount"].as_i64().unwrap(), titles)
}

/// The sum of `board_db_routed_reads_total{target="<target>"}` on the server's /metrics.
async fn routed(app: &TestApp, target: &str) -> f64 {
    let text = app.metrics_text().await;
    let series = format!("target=\"{target}\"");
    text.lines()
        .filter(|l| l.starts_with("board_db_routed_reads_total") && l.contains(&series))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn lists_read_the_replica_and_writers_read_their_writes(backend: Backend) {
    // The replica's database is created by the snapshot below; its pool connects on first use.
    let (replica_url, _replica_cleanup) = replica_url(backend);
    let app = TestApp::spawn_with(backend, |config| {
        config.database_read_url = Some(replica_url.clone());
        config.read_your_writes_secs = FENCE_SECS;
    })
    .await;
    let routed_app = &app;

    let writer = app.admin().await;
    let category = first_category(&app).await;
    create_post(&app, &writer, &category, "before the snapshot").await;
    snapshot(&app, &replica_url).await;
    // From here on the replica lags: it never sees this post.
    let fresh = create_post(routed_app, &writer, &category, "after the snapshot").await;

    // The writer just wrote (through the routed server): their lists come from the primary.
    assert_eq!(
        list(routed_app, Some(&writer)).await,
        (
            2,
            vec![
                "after the snapshot".to_owned(),
                "before the snapshot".to_owned()
            ]
        )
    );
    // Anonymous lists come from the replica.
    let replica_before = routed(routed_app, "replica").await;
    assert_eq!(
        list(routed_app, None).await,
        (1, vec!["before the snapshot".to_owned()])
    );
    assert!(routed(routed_app, "replica").await >= replica_before + 2.0);
    // Point reads fill the cache from the primary, whatever the viewer.
    let data = routed_app
        .ok(
            "query($id: ID!) { post(id: $id) { title } }",
            json!({ "id": fresh }),
            None,
        )
        .await;
    assert_eq!(data["post"]["title"], "after the snapshot");

    // Once the fence has expired, the writer reads the replica like everyone else.
    tokio::time::sleep(Duration::from_millis(FENCE_SECS * 1000 + 300)).await;
    assert_eq!(list(routed_app, Some(&writer)).await.0, 1);

    // A mutation reads the primary: the post it answers is there although the replica lacks it.
    let data = routed_app
        .ok(
            "mutation($id: ID!) { votePost(input: { postId: $id }) { post { title voteCount viewerHasVoted } } }",
            json!({ "id": fresh }),
            Some(&writer.access),
        )
        .await;
    assert_eq!(
        data["votePost"]["post"],
        json!({ "title": "after the snapshot", "voteCount": 1, "viewerHasVoted": true })
    );
    // …and fences the voter again, on every server sharing the cache.
    assert_eq!(list(routed_app, Some(&writer)).await.0, 2);

    // /readyz reports the replica.
    let ready: Value = routed_app
        .client()
        .get(format!("{}/readyz", routed_app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["replica"]["status"], "ok", "{ready}");
}

async fn a_failing_replica_is_answered_by_the_primary(backend: Backend) {
    let unreachable = match backend {
        // A file that does not exist (the replica pool never creates one).
        Backend::Sqlite => format!(
            "sqlite://{}",
            std::env::temp_dir()
                .join(unique("board-missing-"))
                .join("replica.db")
                .display()
        ),
        // Nothing listens on port 1.
        Backend::MariaDb => "mysql://board:board@127.0.0.1:1/board".to_owned(),
    };
    let app = TestApp::spawn_with(backend, |config| {
        config.database_read_url = Some(unreachable.clone());
    })
    .await;
    let routed_app = &app;
    let writer = app.admin().await;
    let category = first_category(&app).await;
    create_post(&app, &writer, &category, "on the primary snapshot").await;

    let fallbacks = routed(routed_app, "fallback").await;
    assert_eq!(
        list(routed_app, None).await,
        (1, vec!["on the primary snapshot".to_owned()])
    );
    assert!(routed(routed_app, "fallback").await >= fallbacks + 2.0);

    let response = routed_app
        .client()
        .get(format!("{}/readyz", routed_app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "the primary still serves every read"
    );
    let ready: Value = response.json().await.unwrap();
    assert_eq!(ready["replica"]["status"], "unavailable", "{ready}");
}

#[test]
fn a_replica_of_another_dialect_is_refused() {
    let config = board::config::RawConfig {
        database_url: "sqlite://board.db".into(),
        database_read_url: Some("mysql://root@127.0.0.1/board".into()),
        ..board::config::RawConfig::default()
    };
    let err = board::config::Config::from(config)
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.contains("DATABASE_READ_URL"), "{err}");
}

macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(super::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
                async fn mariadb_redis() {
                    super::$name(super::Backend::MariaDb).await;
                }
            }
        )*
    };
}

per_backend!(
    lists_read_the_replica_and_writers_read_their_writes,
    a_failing_replica_is_answered_by_the_primary,
);
