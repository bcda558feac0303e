//! Users written before names had skeletons: start-up stores theirs; of two look-alikes the older keeps the
//! skeleton, the later one keeps a NULL skeleton, and the pair is logged — nobody is renamed or locked out.

use std::process::{Command, Stdio};

use board::adapters::sql::Db;
use board::adapters::sql::name_skeletons::{self, LookAlike};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, code, has_errors, test_config};

mod legacy_look_alikes_keep_their_names_and_are_reported {
    use crate::helpers::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::legacy_look_alikes_keep_their_names_and_are_reported(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
    async fn mariadb_redis() {
        super::legacy_look_alikes_keep_their_names_and_are_reported(Backend::MariaDb).await;
    }
}

/// Inserts a user the way a release without skeletons did; answers their id.
async fn insert_legacy_user(db: &Db, name: &str, email: &str, hash: &str) -> i64 {
    const INSERT: &str = "INSERT INTO `user` (name, name_key, password, email, created_datetime, role_id) \
         VALUES (?, ?, ?, ?, ?, (SELECT id FROM role WHERE name = 'user')) RETURNING id";
    let now = chrono::Utc::now();
    let key = name.to_lowercase();
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(INSERT)
            .bind(name)
            .bind(&key)
            .bind(hash)
            .bind(email)
            .bind(now)
            .fetch_one(pool)
            .await
            .unwrap(),
        Db::MySql(pool) => sqlx::query_scalar(INSERT)
            .bind(name)
            .bind(&key)
            .bind(hash)
            .bind(email)
            .bind(now)
            .fetch_one(pool)
            .await
            .unwrap(),
    }
}

/// The named users without a skeleton.
async fn without_skeleton(db: &Db) -> Vec<i64> {
    const SELECT: &str =
        "SELECT id FROM `user` WHERE name IS NOT NULL AND name_skeleton IS NULL ORDER BY id";
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(SELECT).fetch_all(pool).await.unwrap(),
        Db::MySql(pool) => sqlx::query_scalar(SELECT).fetch_all(pool).await.unwrap(),
    }
}

/// `board migrate` (what `board serve` runs first) on the database; answers its JSON log lines.
fn migrate_logs(database_url: &str) -> Vec<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_board"))
        .arg("migrate")
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "board migrate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

async fn legacy_look_alikes_keep_their_names_and_are_reported(backend: Backend) {
    let (config, cleanup) = test_config(backend).await;
    let db = Db::connect(&board::config::Config::from(&config).db)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    // Two users whose names look alike (Latin `pay`, Cyrillic `рау`), and one nobody's looks like.
    let hash = bcrypt::hash("password-1", 4).unwrap();
    let pay = insert_legacy_user(&db, "pay", "pay@example.com", &hash).await;
    let ray = insert_legacy_user(&db, "рау", "ray@example.com", &hash).await;
    let kim = insert_legacy_user(&db, "철수kim", "kim@example.com", &hash).await;
    assert_eq!(without_skeleton(&db).await, [pay, ray, kim]);

    let logs = migrate_logs(&config.database_url);
    let reported = logs.iter().any(|line| {
        line["level"] == "WARN" && line["user_id"] == json!(ray) && line["looks_like"] == json!(pay)
    });
    assert!(
        reported,
        "no warning names user {ray} as a look-alike of {pay}: {logs:#?}"
    );
    assert!(
        logs.iter().any(|line| line["users"] == json!(2)),
        "the filled skeletons are not counted: {logs:#?}"
    );
    // The later look-alike alone is left without a skeleton, so the unique key holds; every run reports it.
    assert_eq!(without_skeleton(&db).await, [ray]);
    let again = name_skeletons::backfill(&db).await.unwrap();
    assert_eq!(again.filled, 0);
    assert_eq!(
        again.look_alikes,
        [LookAlike {
            user_id: ray,
            looks_like: pay
        }]
    );
    db.close().await;

    // Both still exist and sign in, by name and by email.
    let app = TestApp::spawn_on(backend, config, cleanup).await;
    for login in ["pay", "рау", "ray@example.com", "철수kim"] {
        let answer = app.login(login, "password-1").await;
        assert!(!has_errors(&answer), "{login}: {answer:#}");
    }
    // New look-alikes of either are refused.
    let answer = app
        .gql(
            "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
            json!({ "i": { "name": "PAY", "email": "new@example.com", "password": "password-1" } }),
            None,
        )
        .await;
    assert_eq!(code(&answer), "CONFLICT", "{answer:#}");
    // Once the later one takes another name, it has a skeleton and nothing is left to report.
    let session = app.login("рау", "password-1").await;
    let token = session["data"]["login"]["accessToken"].as_str().unwrap();
    app.ok(
        "mutation { updateProfile(input: { name: \"рая\" }) { user { name } } }",
        json!({}),
        Some(token),
    )
    .await;
    let db = Db::connect(&board::config::Config::from(&app.config).db)
        .await
        .unwrap();
    assert!(without_skeleton(&db).await.is_empty());
    assert_eq!(
        name_skeletons::backfill(&db).await.unwrap(),
        Default::default()
    );
    db.close().await;
}
