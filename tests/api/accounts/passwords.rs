//! Stored password hashes follow the configured bcrypt cost.

use serde_json::{Value, json};

use crate::helpers::{Backend, has_errors};

const SIGN_UP: &str = "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }";

/// Row 10: users hashed at cost 4, server restarted at cost 5: a login re-hashes at 5, and the dummy hash of
/// unknown logins follows the stored cost.
mod rehash {
    use super::*;

    async fn serve(config: board::config::RawConfig) -> (String, board::adapters::sql::Db) {
        let app = board::App::build(config).await.unwrap();
        let db = app.db.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(app.serve(listener, std::future::pending()));
        (base, db)
    }

    async fn stored_hash(db: &board::adapters::sql::Db) -> String {
        use board::adapters::sql::Db;
        const SQL: &str = "SELECT CAST(password AS CHAR) FROM `user` WHERE name = 'aged'";
        match db {
            Db::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await.unwrap(),
            Db::MySql(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await.unwrap(),
        }
    }

    async fn gql(base: &str, query: &str, variables: Value) -> Value {
        reqwest::Client::new()
            .post(format!("{base}/graphql"))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn scenario(backend: Backend) {
        let (config, _cleanup) = crate::helpers::test_config(backend).await;
        let (old, db) = serve(config.clone()).await;
        let signed = gql(
            &old,
            SIGN_UP,
            json!({ "i": { "name": "aged", "email": "aged@example.com", "password": "password-1" } }),
        )
        .await;
        assert!(!has_errors(&signed), "{signed:#}");
        assert!(stored_hash(&db).await.starts_with("$2b$04$"));

        let newer = board::config::RawConfig {
            bcrypt_cost: 5,
            ..config
        };
        let (new, db) = serve(newer).await;
        let login = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }";
        let ok = gql(
            &new,
            login,
            json!({ "i": { "login": "aged", "password": "password-1" } }),
        )
        .await;
        assert!(!has_errors(&ok), "{ok:#}");
        let hash = stored_hash(&db).await;
        eprintln!(
            "after a login on the cost-5 server the stored hash starts {}",
            &hash[..7]
        );
        assert!(hash.starts_with("$2b$05$"), "{hash}");
        let again = gql(
            &new,
            login,
            json!({ "i": { "login": "aged", "password": "password-1" } }),
        )
        .await;
        assert!(!has_errors(&again), "{again:#}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        scenario(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
    async fn mariadb_redis() {
        scenario(Backend::MariaDb).await;
    }
}
