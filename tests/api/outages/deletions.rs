//! A write's cache deletion outlasts a short Redis failure of its own process (its breaker open, a reply
//! late): the other processes read the new value as soon as the write answers
//! (docs/read-cache.md#failover).

use std::time::{Duration, Instant};

use crate::helpers::proxy::Proxy;
use crate::helpers::redis::{OwnRedis, free_port, redis_binary};
use crate::helpers::{Backend, Cleanup, Session, TestApp, external_configured};
use serde_json::json;

const READ: &str = "query($id: ID!) { post(id: $id) { title } }";
const EDIT: &str = "mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { title } } }";

async fn title(app: &TestApp, id: &str) -> String {
    let body = app.ok(READ, json!({ "id": id }), None).await;
    body["post"]["title"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A writer whose Redis is `writer_redis` and a reader on the Redis at `port` directly, sharing one
/// database; the writer's author and post (titled "before", read once through the reader).
async fn writer_and_reader(
    writer_redis: String,
    port: u16,
    name: &str,
    email: &str,
) -> (TestApp, TestApp, Session, String) {
    let backend = if external_configured() {
        Backend::MariaDb
    } else {
        Backend::Sqlite
    };
    let writer = TestApp::spawn_with(backend, |c| {
        c.redis_url = Some(writer_redis);
        c.cache_timeout_ms = 200;
    })
    .await;
    let mut direct = writer.config.clone();
    direct.redis_url = Some(format!("redis://127.0.0.1:{port}/0"));
    let reader = TestApp::spawn_on(backend, direct, Cleanup::Nothing).await;
    let author = writer.sign_up(name, email, "password-1").await;
    let category = writer.first_category().await;
    let id = writer
        .create_post(&author.access, &category, "before", "a Redis in trouble")
        .await;
    assert_eq!(title(&reader, &id).await, "before");
    (writer, reader, author, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_while_its_breaker_is_open_still_deletes_for_the_other_processes() {
    let Some(binary) = redis_binary() else {
        panic!("redis-server is not installed: install it (apt-get install redis-server)");
    };
    let port = free_port();
    let _redis = OwnRedis::start(&binary, port);
    // The writer reaches Redis through a proxy that can make it late; the reader does not.
    let proxy = Proxy::start(format!("127.0.0.1:{port}")).await;
    let (writer, reader, author, id) = writer_and_reader(
        format!("redis://127.0.0.1:{}/0", proxy.port()),
        port,
        "늦은redis",
        "late@example.com",
    )
    .await;
    assert_eq!(title(&reader, &id).await, "before", "kept by the reader");

    for round in 0..3 {
        // Redis answers the writer 1 s late: a read gives up after 200 ms and opens its breaker, which
        // stays open a second.
        proxy.set_delay(Duration::from_secs(1));
        assert_eq!(title(&writer, &id).await, title_of(round));
        proxy.set_delay(Duration::ZERO);
        // The edit comes while the breaker is open.
        let new = title_of(round + 1);
        let edited = writer
            .ok(
                EDIT,
                json!({ "i": { "postId": id, "title": new, "content": "a late Redis" } }),
                Some(&author.access),
            )
            .await;
        assert_eq!(edited["updatePost"]["post"]["title"], new.as_str());
        // Acknowledged: the other process reads it at once.
        assert_eq!(title(&reader, &id).await, new, "round {round}");
    }
}

fn title_of(round: usize) -> String {
    if round == 0 {
        "before".to_owned()
    } else {
        format!("after {round}")
    }
}

/// The connections of `user` open on the redis-server on `port`.
async fn connections_of(port: u16, user: &str) -> usize {
    use fred::prelude::{Builder, ClientLike, Config as FredConfig};
    use fred::types::{ClusterHash, CustomCommand};
    let admin =
        Builder::from_config(FredConfig::from_url(&format!("redis://127.0.0.1:{port}/0")).unwrap())
            .build()
            .unwrap();
    admin.init().await.unwrap();
    let list: String = admin
        .custom(
            CustomCommand::new_static("CLIENT", ClusterHash::Random, false),
            vec!["LIST"],
        )
        .await
        .unwrap();
    let _ = admin.quit().await;
    let user = format!(" user={user} ");
    list.lines().filter(|l| l.contains(&user)).count()
}

/// Redis restarts (a new primary, as after a failover) and the writer's process cannot verify it yet (its
/// user may not run `INFO` there), while the reader's has verified it and filled the new namespace. The
/// writer's deletion reaches the new server, in the namespace verified last, where no process reads: the
/// write answers only once the writer has verified the new primary and deleted the keys there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_before_its_process_verified_a_new_primary_answers_once_deleted_there() {
    let Some(binary) = redis_binary() else {
        panic!("redis-server is not installed: install it (apt-get install redis-server)");
    };
    let port = free_port();
    let mut redis = OwnRedis::start(&binary, port);
    let writer_user = [
        "ACL",
        "SETUSER",
        "writer",
        "on",
        ">writer-pw",
        "~*",
        "&*",
        "+@all",
    ];
    assert_eq!(OwnRedis::command(port, &writer_user), "+OK");
    let (writer, reader, author, id) = writer_and_reader(
        format!("redis://writer:writer-pw@127.0.0.1:{port}/0"),
        port,
        "새primary",
        "new-primary@example.com",
    )
    .await;
    let writers = connections_of(port, "writer").await;
    assert!(writers > 0);

    // A new primary: the writer reconnects to it but may not ask who it is.
    redis.kill();
    redis = OwnRedis::start(&binary, port);
    let mut without_info = writer_user.to_vec();
    without_info.push("-info");
    assert_eq!(OwnRedis::command(port, &without_info), "+OK");
    let deadline = Instant::now() + Duration::from_secs(20);
    while connections_of(port, "writer").await < writers {
        assert!(Instant::now() < deadline, "the writer did not reconnect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The reader verified it and keeps the post in its namespace.
    loop {
        let (body, db, _) = reader.gql_counted(READ, json!({ "id": id }), None).await;
        assert_eq!(body["data"]["post"]["title"], "before");
        if db == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the reader did not warm up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The writer edits; 300 ms later it may verify the new primary.
    let grant = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            OwnRedis::command(port, &["ACL", "SETUSER", "writer", "+info"]),
            "+OK"
        );
    };
    let edit = writer.ok(
        EDIT,
        json!({ "i": { "postId": id, "title": "after", "content": "a new primary" } }),
        Some(&author.access),
    );
    let ((), edited) = tokio::join!(grant, edit);
    assert_eq!(edited["updatePost"]["post"]["title"], "after");
    assert_eq!(
        title(&reader, &id).await,
        "after",
        "read through the other process as soon as the write answered"
    );
    drop(redis);
}
