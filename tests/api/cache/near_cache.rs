//! Cache-aside: what a read leaves behind on Redis, under which key, for how long; and the near cache in front
//! of it (decoded values in the process), which must hear every deletion.

use crate::helpers::{Backend, TestApp};
use base64::Engine;
use fred::prelude::{Builder, ClientLike, Config as FredConfig, KeysInterface, PubsubInterface};
use serde_json::json;

backend_tests!(
    the_near_cache_answers_warm_reads_and_forgets_on_write,
    one_request_reading_a_key_twice_at_once_does_not_wait_for_itself,
);

/// On a cold server, `category(id:)` (a DataLoader batch) and `posts(categoryId:)` (a direct read) miss the
/// category tree at once in one request. The batch must not wait for the other read of its own request:
/// while batches run the rest of the request is not polled, so that wait never ended (10 s, then
/// SERVICE_UNAVAILABLE).
async fn one_request_reading_a_key_twice_at_once_does_not_wait_for_itself(app: TestApp) {
    let data = app.ok("{ categories { id } }", json!({}), None).await;
    let qna = data["categories"][0]["id"].as_str().unwrap().to_owned();
    // A second server on the same database: its caches are cold.
    let cold = app.spawn_beside().await;
    let query = "query($c: ID) { category(id: $c) { name } posts(categoryId: $c, first: 20) { edges { node { id } } } }";
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        cold.ok(query, json!({ "c": qna }), None),
    )
    .await
    .expect("the request waited for itself");
    assert_eq!(answer["category"]["name"], "qna");
}

const READ: &str =
    "query($id: ID!) { post(id: $id) { title voteCount author { name } category { name } } }";

async fn post_of(app: &TestApp, title: &str) -> (crate::helpers::Session, String) {
    let author = app.sign_up("nina", "nina@example.com", "password-1").await;
    let category = app.first_category().await;
    let id = app
        .create_post(&author.access, &category, title, "near")
        .await;
    (author, id)
}

async fn the_near_cache_answers_warm_reads_and_forgets_on_write(app: TestApp) {
    let (author, id) = post_of(&app, "v0").await;
    app.ok(READ, json!({ "id": id }), None).await;
    let (body, db, cache) = app.gql_counted(READ, json!({ "id": id }), None).await;
    assert_eq!(body["data"]["post"]["title"], "v0", "{body:#}");
    // On Redis the near cache first syncs with the other processes' announcements: one shared round trip.
    let sync = u64::from(app.backend == Backend::MariaDb);
    assert_eq!(
        (db, cache),
        (0, sync),
        "warm: post, author and category from the near cache"
    );

    // Every write is seen by the very next read, vote counts included.
    let update = "mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { version } } }";
    for round in 1..=10 {
        let title = format!("v{round}");
        app.ok(
            update,
            json!({ "i": { "postId": id, "title": title, "content": "near" } }),
            Some(&author.access),
        )
        .await;
        let (body, _, _) = app.gql_counted(READ, json!({ "id": id }), None).await;
        assert_eq!(
            body["data"]["post"]["title"],
            title.as_str(),
            "round {round}: stale"
        );
    }
    app.ok(
        "mutation($id: ID!) { votePost(input: { postId: $id }) { post { voteCount } } }",
        json!({ "id": id }),
        Some(&author.access),
    )
    .await;
    let (body, _, _) = app.gql_counted(READ, json!({ "id": id }), None).await;
    assert_eq!(body["data"]["post"]["voteCount"], 1, "{body:#}");
    app.ok(
        "mutation { updateProfile(input: { name: \"nina2\" }) { user { name } } }",
        json!({}),
        Some(&author.access),
    )
    .await;
    let (body, _, _) = app.gql_counted(READ, json!({ "id": id }), None).await;
    assert_eq!(body["data"]["post"]["author"]["name"], "nina2", "{body:#}");
}

/// With `near_cache_ttl_ms = 0` a warm read is served by the shared cache: no database, some cache round trips.
async fn without_the_near_cache_warm_reads_ask_the_shared_cache(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.near_cache_ttl_ms = 0).await;
    let (_, id) = post_of(&app, "shared").await;
    app.ok(READ, json!({ "id": id }), None).await;
    let (body, db, cache) = app.gql_counted(READ, json!({ "id": id }), None).await;
    assert_eq!(body["data"]["post"]["title"], "shared", "{body:#}");
    assert_eq!(db, 0, "warm");
    assert!(
        cache >= 1,
        "the shared cache answered ({cache} round trips)"
    );
}

mod near_cache_off {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        without_the_near_cache_warm_reads_ask_the_shared_cache(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
    async fn mariadb_redis() {
        crate::helpers::require_external();
        without_the_near_cache_warm_reads_ask_the_shared_cache(Backend::MariaDb).await;
    }
}

/// Another process's deletion reaches this one's near cache through Redis pub/sub. Observed with a doctored
/// Redis entry: while the near cache holds the user it is not seen; once the key is announced, it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn a_deletion_announced_by_another_process_empties_the_near_cache_entry() {
    crate::helpers::require_external();
    let app = TestApp::spawn(Backend::MariaDb).await;
    let user = app.sign_up("otto", "otto@example.com", "password-1").await;
    let id = user_key_id(&user.user_id);
    let key = format!("{}:v1:user:{id}", app.config.cache_prefix);
    let viewer = "{ viewer { name } }";
    app.ok(viewer, json!({}), Some(&user.access)).await;

    let redis = Builder::from_config(
        FredConfig::from_url(app.config.redis_url.as_deref().unwrap()).unwrap(),
    )
    .build()
    .unwrap();
    redis.init().await.unwrap();
    let stored_key = stored(&redis, &key).await;
    let cached: String = redis.get(&stored_key).await.unwrap();
    let doctored = cached.replace("\"otto\"", "\"doctored\"");
    assert_ne!(cached, doctored, "{cached}");
    let () = redis
        .set(&stored_key, doctored, None, None, false)
        .await
        .unwrap();

    let (body, db, cache) = app.gql_counted(viewer, json!({}), Some(&user.access)).await;
    assert_eq!(
        body["data"]["viewer"]["name"], "otto",
        "the near cache answers: {body:#}"
    );
    assert_eq!((db, cache), (0, 1), "one sync round, then the near cache");

    let channel = format!("{}:v1:invalidations", app.config.cache_prefix);
    let listeners: i64 = redis.publish(&channel, key.as_str()).await.unwrap();
    assert_eq!(listeners, 1, "the server follows {channel}");
    // The sync round of the next request comes back after this announcement: no waiting needed.
    let (body, db, cache) = app.gql_counted(viewer, json!({}), Some(&user.access)).await;
    assert_eq!(
        body["data"]["viewer"]["name"], "doctored",
        "the very next read no longer uses the forgotten entry: {body:#}"
    );
    assert_eq!((db, cache), (0, 2), "a sync round, then Redis again");
}

/// `key` as Redis stores it: in the namespace of the primary it lives on (the first 12 digits of its run id;
/// docs/read-cache.md#failover).
async fn stored(redis: &fred::prelude::Client, key: &str) -> String {
    use fred::types::{ClusterHash, CustomCommand};
    let info: String = redis
        .custom(
            CustomCommand::new_static("INFO", ClusterHash::Random, false),
            vec!["server"],
        )
        .await
        .unwrap();
    let run_id = info
        .lines()
        .find_map(|l| l.trim().strip_prefix("run_id:"))
        .unwrap();
    format!("{key}@{}", &run_id[..12])
}

fn user_key_id(user_id: &str) -> String {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(user_id)
        .unwrap();
    String::from_utf8(raw)
        .unwrap()
        .trim_start_matches("User:")
        .to_owned()
}

#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn a_viewer_read_caches_the_user_under_a_namespaced_key_with_a_ttl() {
    crate::helpers::require_external();
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
    let key = stored(&redis, &key).await;
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

/// The cache-aside refill race on Redis: a reader misses, reads the database, and a write commits and deletes
/// the key before the reader stores what it read. The reader's fill must be refused, or the old value would
/// stay for a whole TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn a_fill_read_before_a_deletion_is_refused_on_redis() {
    use board::ports::{Cache, FillEntry};
    use std::time::Duration;
    let url = std::env::var("TEST_REDIS_URL").unwrap();
    let (cache, prefix) = crate::helpers::redis::shared_cache("fill").await;
    let keys = [format!("{prefix}:post:1"), format!("{prefix}:post:2")];
    let ttl = Duration::from_secs(60);
    let (values, guards) = cache.get_for_fill(&keys).await.unwrap();
    assert_eq!(values, vec![None, None]);
    // A write deletes post 1 while the reader is at the database.
    cache.delete(&keys[..1]).await.unwrap();
    cache
        .fill_many(&[
            FillEntry::new(keys[0].clone(), "old".into(), ttl, guards[0]),
            FillEntry::new(keys[1].clone(), "two".into(), ttl, guards[1]),
        ])
        .await
        .unwrap();
    assert_eq!(
        cache.get_many(&keys).await.unwrap(),
        vec![None, Some("two".into())],
        "the fill of the deleted key is refused, the other one lands"
    );
    // Redis forgets its scripts when it restarts: the next fill loads the script again.
    {
        use fred::prelude::LuaInterface;
        let admin = Builder::from_config(FredConfig::from_url(&url).unwrap())
            .build()
            .unwrap();
        admin.init().await.unwrap();
        let () = admin.script_flush(false).await.unwrap();
    }
    // A reader that began after the deletion fills.
    let (_, guards) = cache.get_for_fill(&keys[..1]).await.unwrap();
    cache
        .fill_many(&[FillEntry::new(
            keys[0].clone(),
            "new".into(),
            ttl,
            guards[0],
        )])
        .await
        .unwrap();
    assert_eq!(
        cache.get_many(&keys[..1]).await.unwrap(),
        vec![Some("new".into())]
    );
    cache.delete(&keys).await.unwrap();
}

/// A deletion answers the fill guards it left, as a read right after it reads them: the request that
/// deleted fills under them without reading the key first. A later deletion still refuses that fill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn a_deletion_answers_the_guards_a_read_after_it_reads_on_redis() {
    use board::ports::{Cache, FillEntry};
    use std::time::Duration;
    let (cache, prefix) = crate::helpers::redis::shared_cache("guards").await;
    let keys = [format!("{prefix}:post:1"), format!("{prefix}:post:2")];
    let ttl = Duration::from_secs(60);
    cache.delete(&keys[..1]).await.unwrap();
    let guards = cache.delete_slot_values(&keys).await.unwrap();
    let (_, read) = cache.get_for_fill(&keys).await.unwrap();
    assert_eq!(
        guards, read,
        "the guards a read right after the deletion gets"
    );
    let again = cache.delete(&keys[..1]).await.unwrap();
    assert_ne!(again[0], guards[0], "each deletion moves the guard");
    cache
        .fill_many(&[
            FillEntry::new(keys[0].clone(), "old".into(), ttl, guards[0]),
            FillEntry::new(keys[1].clone(), "two".into(), ttl, guards[1]),
        ])
        .await
        .unwrap();
    assert_eq!(
        cache.get_many(&keys).await.unwrap(),
        vec![None, Some("two".into())],
        "the fill under the first deletion's guard is refused after the second"
    );
    cache.delete(&keys).await.unwrap();
}
