//! Cache-aside on Redis: what a read leaves behind, under which key, for how long.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use common::{Backend, TestApp};
use fred::prelude::{Builder, ClientLike, Config as FredConfig, KeysInterface};
use serde_json::json;

#[tokio::test]
async fn a_viewer_read_caches_the_user_under_a_namespaced_key_with_a_ttl() {
    if !common::external_configured() {
        eprintln!("TEST_REDIS_URL unset: Redis key layout not checked");
        return;
    }
    let app = TestApp::spawn(Backend::MariaDb).await;
    let user = app.sign_up("rosa", "rosa@example.com", "password-1").await;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&user.user_id)
        .unwrap();
    let id = String::from_utf8(raw)
        .unwrap()
        .trim_start_matches("User:")
        .to_owned();
    let key = format!("{}:v1:user:{id}", app.config.cache_prefix);

    let redis = Builder::from_config(
        FredConfig::from_url(app.config.redis_url.as_deref().unwrap()).unwrap(),
    )
    .build()
    .unwrap();
    redis.init().await.unwrap();
    let before: Option<String> = redis.get(&key).await.unwrap();
    assert!(before.is_none(), "sign-up does not cache");

    app.ok("{ viewer { name } }", json!({}), Some(&user.access))
        .await;
    let cached: Option<String> = redis.get(&key).await.unwrap();
    let cached = cached.expect("the viewer read cached the user");
    assert!(cached.contains("rosa"));
    assert!(!cached.contains("$2"), "no password hash in the cache");
    let ttl: i64 = redis.ttl(&key).await.unwrap();
    let base = app.config.cache_ttl_secs as i64;
    assert!(
        ttl > 0 && ttl <= base + base / 10 + 1,
        "TTL {ttl}s within the configured {base}s + jitter"
    );

    // A write invalidates after commit.
    app.ok(
        "mutation { updateProfile(input: { name: \"rosa2\" }) { user { name } } }",
        json!({}),
        Some(&user.access),
    )
    .await;
    let after: Option<String> = redis.get(&key).await.unwrap();
    assert!(after.is_none() || after.as_deref().is_some_and(|v| v.contains("rosa2")));
}
