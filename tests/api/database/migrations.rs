//! Both dialects end with the same tables and columns, read back from the databases themselves
//! (SQLite's pragma, MariaDB's information_schema), and those include every column of the ERD in
//! docs/data-model.md. Migrations are idempotent, and concurrent runs on MariaDB wait for each other.

use std::collections::{BTreeMap, BTreeSet};

use crate::helpers::Backend;
use board::adapters::sql::Db;

type Columns = BTreeMap<String, BTreeSet<String>>;
/// (roles, states, categories as (name, tier, parent name)).
type Seeds = (Vec<String>, Vec<String>, Vec<(String, i64, Option<String>)>);

/// Tables and columns of the ERD, parsed from the table in docs/data-model.md.
fn erd() -> Columns {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/data-model.md"))
        .unwrap();
    let mut columns = Columns::new();
    let mut table = String::new();
    for line in text.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (t, c) = (cells[1], cells[2]);
        if c.is_empty() || c == "column" || c.starts_with("---") {
            continue;
        }
        if !t.is_empty() {
            table = t.to_owned();
        }
        columns
            .entry(table.clone())
            .or_default()
            .insert(c.to_owned());
    }
    assert!(
        columns.len() >= 12,
        "the ERD table was not found: {columns:?}"
    );
    columns
}

/// SQLite's columns; the FTS5 index `post_search_fts` and its shadow tables are left out (MariaDB keeps the
/// same index inside `post_search`, as its FULLTEXT index).
async fn sqlite_columns(db: &Db) -> Columns {
    let Db::Sqlite(pool) = db else { unreachable!() };
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations' \
         AND m.name NOT LIKE 'post_search_fts%'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    group(rows)
}

async fn mariadb_columns(db: &Db) -> Columns {
    let Db::MySql(pool) = db else { unreachable!() };
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR) FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    group(rows)
}

fn group(rows: Vec<(String, String)>) -> Columns {
    let mut columns = Columns::new();
    for (table, column) in rows {
        columns.entry(table).or_default().insert(column);
    }
    columns
}

/// Every table and column beyond the ERD must be named in the migration's header comment.
fn check_against_erd(found: &Columns, migration: &str) {
    let erd = erd();
    for (table, wanted) in &erd {
        let have = found
            .get(table)
            .unwrap_or_else(|| panic!("table {table} is missing"));
        let missing: Vec<_> = wanted.difference(have).collect();
        assert!(missing.is_empty(), "{table} lacks ERD columns {missing:?}");
    }
    // Every migration of the dialect: an addition may be documented in the file that makes it.
    let dir = format!("{}/migrations/{migration}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let text: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    for (table, have) in found {
        match erd.get(table) {
            None => assert!(
                text.contains(&format!("--   {table}")),
                "added table {table} is not documented"
            ),
            Some(wanted) => {
                for column in have.difference(wanted) {
                    assert!(
                        text.contains(&format!("{table}.{column}")),
                        "added column {table}.{column} is not documented in {migration}"
                    );
                }
            }
        }
    }
}

async fn migrated(backend: Backend) -> (Db, crate::helpers::Cleanup) {
    let (config, cleanup) = crate::helpers::test_config(backend).await;
    let db = Db::connect(&board::config::Config::from(&config).db)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    db.migrate().await.expect("migrations are idempotent");
    (db, cleanup)
}

async fn seeds(db: &Db) -> Seeds {
    macro_rules! names {
        ($pool:expr, $sql:expr) => {
            sqlx::query_scalar::<_, String>($sql)
                .fetch_all($pool)
                .await
                .unwrap()
        };
    }
    const CATEGORIES: &str = "SELECT CAST(c.name AS CHAR), c.tier, CAST(p.name AS CHAR) FROM category c \
         LEFT JOIN category p ON p.id = c.parent_id ORDER BY c.id";
    match db {
        Db::Sqlite(pool) => (
            names!(pool, "SELECT name FROM role ORDER BY name"),
            names!(pool, "SELECT name FROM state ORDER BY name"),
            sqlx::query_as(CATEGORIES).fetch_all(pool).await.unwrap(),
        ),
        Db::MySql(pool) => (
            names!(pool, "SELECT CAST(name AS CHAR) FROM role ORDER BY name"),
            names!(pool, "SELECT CAST(name AS CHAR) FROM state ORDER BY name"),
            sqlx::query_as(CATEGORIES).fetch_all(pool).await.unwrap(),
        ),
    }
}

fn check_seeds(seeded: Seeds) {
    let (roles, states, categories) = seeded;
    assert_eq!(roles, ["admin", "user"]);
    assert_eq!(states, ["blocked", "inactive"]);
    let expected = [
        ("qna", 1, None),
        ("community", 1, None),
        ("tech", 2, Some("qna")),
        ("career", 2, Some("qna")),
        ("life", 2, Some("community")),
        ("news", 2, Some("community")),
    ];
    let expected: Vec<(String, i64, Option<String>)> = expected
        .iter()
        .map(|(n, t, p)| ((*n).to_owned(), *t, p.map(str::to_owned)))
        .collect();
    assert_eq!(categories, expected);
}

#[tokio::test]
async fn sqlite_schema_matches_the_erd_and_seeds_it() {
    let (db, _cleanup) = migrated(Backend::Sqlite).await;
    check_against_erd(&sqlite_columns(&db).await, "sqlite");
    check_seeds(seeds(&db).await);
}

#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn mariadb_schema_equals_the_sqlite_schema() {
    crate::helpers::require_external();
    let (sqlite, _c1) = migrated(Backend::Sqlite).await;
    let (mariadb, _c2) = migrated(Backend::MariaDb).await;
    let mariadb_columns = mariadb_columns(&mariadb).await;
    assert_eq!(
        mariadb_columns,
        sqlite_columns(&sqlite).await,
        "the two dialects differ"
    );
    check_against_erd(&mariadb_columns, "mysql");
    check_seeds(seeds(&mariadb).await);

    // Text is utf8mb4 everywhere (Korean and emoji survive).
    let Db::MySql(pool) = &mariadb else {
        unreachable!()
    };
    let narrow: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(CONCAT(TABLE_NAME, '.', COLUMN_NAME) AS CHAR) FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() AND CHARACTER_SET_NAME IS NOT NULL AND CHARACTER_SET_NAME <> 'utf8mb4'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(narrow.is_empty(), "columns without utf8mb4: {narrow:?}");
}

#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn concurrent_mariadb_migrations_wait_for_each_other() {
    crate::helpers::require_external();
    let (config, _cleanup) = crate::helpers::test_config(Backend::MariaDb).await;
    let a = Db::connect(&board::config::Config::from(&config).db)
        .await
        .unwrap();
    let b = Db::connect(&board::config::Config::from(&config).db)
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.unwrap();
    rb.unwrap();
    check_seeds(seeds(&a).await);
}
