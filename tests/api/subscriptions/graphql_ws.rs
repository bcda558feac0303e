//! Subscriptions over graphql-ws on /graphql: events after commit, per-subscriber rights, auth, bounds.

use std::time::Duration;

use crate::helpers::ws::{Heard, WsClient};
use crate::helpers::{Backend, TestApp, unique};
use serde_json::{Value, json};

const COMMENT_ADDED: &str = "subscription($p: ID!) { commentAdded(postId: $p) { content author { name email } viewerCanEdit } }";
const POST_UPDATED: &str = "subscription($p: ID!) { postUpdated(postId: $p) { title version voteCount commentCount isActive } }";
const POST_ADDED: &str =
    "subscription($c: ID) { postAdded(categoryId: $c) { title category { name } } }";

async fn member(app: &TestApp) -> crate::helpers::Session {
    let name = format!("m{}", &unique("")[..10]);
    app.sign_up(&name, &format!("{name}@example.com"), "password-1")
        .await
}

async fn create_category(app: &TestApp, admin: &str, name: &str, parent: Option<&str>) -> String {
    let data = app
        .ok(
            "mutation($i: CreateCategoryInput!) { createCategory(input: $i) { category { id } } }",
            json!({ "i": { "name": name, "parentId": parent } }),
            Some(admin),
        )
        .await;
    data["createCategory"]["category"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn comment(app: &TestApp, token: &str, post: &str, content: &str) {
    app.ok(
        "mutation($i: CreateCommentInput!) { createComment(input: $i) { comment { id } } }",
        json!({ "i": { "postId": post, "content": content } }),
        Some(token),
    )
    .await;
}

async fn edit(app: &TestApp, token: &str, post: &str, title: &str) {
    app.ok(
        "mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { id } } }",
        json!({ "i": { "postId": post, "title": title, "content": "edited" } }),
        Some(token),
    )
    .await;
}

/// A comment written through HTTP reaches subscribers with each one's rights: the author sees their own
/// email, an anonymous subscriber does not.
async fn a_comment_reaches_its_subscribers(app: TestApp) {
    let writer = member(&app).await;
    let category = app.first_category().await;
    let post = app.create_post(&writer.access, &category, "t", "c").await;
    let mut anonymous = WsClient::ready(&app.base, None).await;
    anonymous
        .listen("a", COMMENT_ADDED, json!({ "p": post }))
        .await;
    let mut author = WsClient::ready(&app.base, Some(&writer.access)).await;
    author
        .listen("b", COMMENT_ADDED, json!({ "p": post }))
        .await;

    comment(&app, &writer.access, &post, "안녕 👋").await;
    let seen = anonymous.next_of("a").await;
    assert_eq!(seen["data"]["commentAdded"]["content"], "안녕 👋");
    assert_eq!(seen["data"]["commentAdded"]["author"]["email"], Value::Null);
    assert_eq!(seen["data"]["commentAdded"]["viewerCanEdit"], false);
    let own = author.next_of("b").await;
    assert!(
        own["data"]["commentAdded"]["author"]["email"]
            .as_str()
            .unwrap()
            .ends_with("@example.com"),
        "{own:#}"
    );
    assert_eq!(own["data"]["commentAdded"]["viewerCanEdit"], true);

    // The client ends its subscription: `complete` is not answered, and nothing more arrives for it.
    anonymous
        .send(json!({ "type": "complete", "id": "a" }))
        .await;
    comment(&app, &writer.access, &post, "second").await;
    assert_eq!(
        author.next_of("b").await["data"]["commentAdded"]["content"],
        "second"
    );
    assert_eq!(
        anonymous.hear_within(Duration::from_millis(300)).await,
        None
    );
}

/// `postAdded` on a root category hears a post in its child, not one in another root.
async fn post_added_hears_descendants(app: TestApp) {
    let admin = app.admin().await;
    let root = create_category(&app, &admin.access, &unique("r")[..12], None).await;
    let child = create_category(&app, &admin.access, "child", Some(&root)).await;
    let other = create_category(&app, &admin.access, &unique("o")[..12], None).await;
    let mut client = WsClient::ready(&app.base, None).await;
    client.listen("1", POST_ADDED, json!({ "c": root })).await;
    let mut everything = WsClient::ready(&app.base, None).await;
    everything.listen("all", POST_ADDED, json!({})).await;

    app.create_post(&admin.access, &other, "elsewhere", "x")
        .await;
    app.create_post(&admin.access, &child, "below", "x").await;
    let heard = client.next_of("1").await;
    assert_eq!(
        heard["data"]["postAdded"],
        json!({ "title": "below", "category": { "name": "child" } })
    );
    assert_eq!(
        everything.next_of("all").await["data"]["postAdded"]["title"],
        "elsewhere"
    );
    assert_eq!(
        everything.next_of("all").await["data"]["postAdded"]["title"],
        "below"
    );
}

/// `postUpdated` hears an edit, a vote and a comment; a deletion is `null` to a member and visible to an admin.
async fn post_updated_hears_edits_votes_comments_and_deletion(app: TestApp) {
    let writer = member(&app).await;
    let admin = app.admin().await;
    let category = app.first_category().await;
    let post = app.create_post(&writer.access, &category, "v0", "c").await;
    let mut watcher = WsClient::ready(&app.base, Some(&writer.access)).await;
    watcher
        .listen("p", POST_UPDATED, json!({ "p": post }))
        .await;
    let mut admin_watch = WsClient::ready(&app.base, Some(&admin.access)).await;
    admin_watch
        .listen("p", POST_UPDATED, json!({ "p": post }))
        .await;

    edit(&app, &writer.access, &post, "v1").await;
    let seen = watcher.next_of("p").await;
    assert_eq!(seen["data"]["postUpdated"]["title"], "v1");
    assert_eq!(seen["data"]["postUpdated"]["version"], 1);
    app.ok(
        "mutation($p: ID!) { votePost(input: { postId: $p }) { post { voteCount } } }",
        json!({ "p": post }),
        Some(&admin.access),
    )
    .await;
    assert_eq!(
        watcher.next_of("p").await["data"]["postUpdated"]["voteCount"],
        1
    );
    comment(&app, &writer.access, &post, "hello").await;
    assert_eq!(
        watcher.next_of("p").await["data"]["postUpdated"]["commentCount"],
        1
    );
    app.ok(
        "mutation($p: ID!) { deletePost(input: { postId: $p }) { deletedId } }",
        json!({ "p": post }),
        Some(&writer.access),
    )
    .await;
    assert_eq!(
        watcher.next_of("p").await["data"]["postUpdated"],
        Value::Null
    );
    for _ in 0..3 {
        admin_watch.next_of("p").await;
    }
    let deleted = admin_watch.next_of("p").await;
    assert_eq!(deleted["data"]["postUpdated"]["isActive"], false);
}

/// A token that does not verify closes the socket with 4403, never serving it as anonymous; so does a
/// malformed authorization value. No `connection_init` in time: 4408.
async fn bad_tokens_and_late_init_close_the_socket(app: TestApp) {
    for payload in [
        json!({ "authorization": "Bearer not-a-token" }),
        json!({ "Authorization": "Basic abc" }),
        json!({ "AUTHORIZATION": 7 }),
    ] {
        let mut client = WsClient::connect(&app.base).await;
        assert_eq!(client.init(payload).await, Heard::Closed(Some(4403)));
    }
    let user = member(&app).await;
    let mut client = WsClient::connect(&app.base).await;
    assert_eq!(
        client
            .init(json!({ "AuThOrIzAtIoN": format!("Bearer {}", user.access) }))
            .await,
        Heard::Message(json!({ "type": "connection_ack" }))
    );
    // Subscribing before the handshake: 4401.
    let mut early = WsClient::connect(&app.base).await;
    early.subscribe("1", POST_ADDED, json!({})).await;
    assert_eq!(early.closed().await, Some(4401));
}

/// Subscription documents meet the query limits (queries and mutations over the socket: operations.rs).
async fn subscription_documents_meet_the_limits(app: TestApp) {
    let mut client = WsClient::ready(&app.base, None).await;
    let deep = format!(
        "subscription {{ postAdded {{ {} id {} }} }}",
        "category { parent { ".repeat(7),
        "} } ".repeat(7)
    );
    client.subscribe("d", &deep, json!({})).await;
    match client.hear().await {
        Heard::Message(m) => {
            assert_eq!(m["type"], "error", "{m:#}");
            assert_eq!(m["payload"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX");
        }
        other => panic!("{other:?}"),
    }
    // One root field per subscription: aliases would multiply the streams of one, and a fragment at
    // the root would end it without a word.
    for (id, query) in [
        (
            "a",
            "subscription { a: postAdded { id } b: postAdded { id } }",
        ),
        (
            "f",
            "subscription { ...F } fragment F on Subscription { postAdded { id } }",
        ),
    ] {
        client.subscribe(id, query, json!({})).await;
        match client.hear().await {
            Heard::Message(m) => {
                assert_eq!(m["type"], "error", "{m:#}");
                assert_eq!(m["id"], id);
                assert_eq!(m["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
            }
            other => panic!("{other:?}"),
        }
    }
    // A document that does not fit the schema: coded like over HTTP.
    client
        .subscribe("v", "subscription { __typename }", json!({}))
        .await;
    match client.hear().await {
        Heard::Message(m) => {
            assert_eq!(m["type"], "error", "{m:#}");
            let errors = m["payload"].as_array().unwrap();
            assert!(
                !errors.is_empty()
                    && errors
                        .iter()
                        .all(|e| e["extensions"]["code"] == "BAD_USER_INPUT"),
                "{m:#}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A post that does not exist: an `error` message for that subscription; the socket stays.
    client
        .subscribe("n", POST_UPDATED, json!({ "p": "UG9zdDo5OTk5OTk=" }))
        .await;
    match client.hear().await {
        Heard::Message(m) => {
            assert_eq!(m["type"], "error", "{m:#}");
            assert_eq!(m["id"], "n");
        }
        other => panic!("{other:?}"),
    }
}

backend_tests!(
    a_comment_reaches_its_subscribers,
    post_added_hears_descendants,
    post_updated_hears_edits_votes_comments_and_deletion,
    bad_tokens_and_late_init_close_the_socket,
    subscription_documents_meet_the_limits,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_init_timeout_closes_with_4408() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.ws_init_timeout_ms = 200).await;
    let mut client = WsClient::connect(&app.base).await;
    assert_eq!(client.closed().await, Some(4408));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_closes_the_socket() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.access_token_ttl_secs = 2).await;
    let user = member(&app).await;
    let mut client = WsClient::ready(&app.base, Some(&user.access)).await;
    client.listen("1", POST_ADDED, json!({})).await;
    assert_eq!(client.closed().await, Some(4401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_user_is_closed_with_4403() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.ws_recheck_secs = 1).await;
    let admin = app.admin().await;
    let user = member(&app).await;
    let mut client = WsClient::ready(&app.base, Some(&user.access)).await;
    client.listen("1", POST_ADDED, json!({})).await;
    app.ok(
        "mutation($u: ID!) { blockUser(input: { userId: $u }) { user { id } } }",
        json!({ "u": user.user_id }),
        Some(&admin.access),
    )
    .await;
    assert_eq!(client.closed().await, Some(4403));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_and_sockets_are_capped() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.ws_subscriptions_per_connection = 2;
        c.ws_connections_per_client = 2;
    })
    .await;
    let mut client = WsClient::ready(&app.base, None).await;
    client.listen("1", POST_ADDED, json!({})).await;
    client.listen("2", POST_ADDED, json!({})).await;
    client.subscribe("3", POST_ADDED, json!({})).await;
    match client.hear().await {
        Heard::Message(m) => {
            assert_eq!(m["type"], "error");
            assert_eq!(m["id"], "3");
            assert_eq!(m["payload"][0]["extensions"]["code"], "RATE_LIMITED");
        }
        other => panic!("{other:?}"),
    }
    // Completing one makes room.
    client.send(json!({ "type": "complete", "id": "1" })).await;
    client.listen("3", POST_ADDED, json!({})).await;
    // The same id twice: 4409.
    let _second = WsClient::ready(&app.base, None).await;
    let mut third = WsClient::connect(&app.base).await;
    assert_eq!(third.closed().await, Some(4429));
    client.subscribe("3", POST_ADDED, json!({})).await;
    assert_eq!(client.closed().await, Some(4409));
}

/// A member's post, 20 subscriptions of its content on a socket that never reads and one on a socket that
/// does; then `rounds` edits of 40 kB, each of which the reading socket must hear. Answers the slow socket.
async fn edits_heard_past_a_slow_reader(app: &TestApp, rounds: usize) -> WsClient {
    let writer = member(app).await;
    let category = app.first_category().await;
    let post = app.create_post(&writer.access, &category, "t", "c").await;
    let big = "subscription($p: ID!) { postUpdated(postId: $p) { content } }";
    let mut slow = WsClient::ready(&app.base, None).await;
    for i in 0..20 {
        slow.listen(&format!("s{i}"), big, json!({ "p": post }))
            .await;
    }
    let mut fast = WsClient::ready(&app.base, None).await;
    fast.listen("f", big, json!({ "p": post })).await;
    let content = "x".repeat(40_000);
    for round in 0..rounds {
        app.ok(
            "mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { id } } }",
            json!({ "i": { "postId": post, "title": format!("r{round}"), "content": content } }),
            Some(&writer.access),
        )
        .await;
        let heard = fast.next_of("f").await;
        assert_eq!(heard["data"]["postUpdated"]["content"], content);
    }
    slow
}

/// The slow socket reads at last: what was sent before it was dropped, then the end (1008, or no frame
/// when the queue had no room left for it); the drop is counted.
async fn assert_dropped_as_slow(app: &TestApp, mut slow: WsClient) {
    let code = slow.closed().await;
    assert!(
        matches!(code, Some(1008) | None),
        "the slow client was closed with {code:?}"
    );
    let metrics = app.metrics_text().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("board_subscriptions_dropped_total{")
                && l.contains("slow_subscriber")
                && !l.ends_with(" 0")),
        "{metrics}"
    );
}

/// A client that does not read is dropped with 1008 while the others keep receiving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_is_dropped_while_others_keep_receiving() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.ws_send_buffer = 4;
        c.ws_subscriptions_per_connection = 20;
        c.edits_per_user = 10_000;
    })
    .await;
    let slow = edits_heard_past_a_slow_reader(&app, 12).await;
    assert_dropped_as_slow(&app, slow).await;
}

/// The send queue is bounded in bytes as well as in messages: a client that does not read cannot make
/// the server hold `ws_send_buffer` large messages for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_of_large_messages_is_dropped_by_bytes() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        // Far more messages than the test sends: only the byte budget can refuse them.
        c.ws_send_buffer = 100_000;
        c.ws_send_buffer_bytes = 64 * 1024;
        c.ws_subscriptions_per_connection = 20;
        c.edits_per_user = 10_000;
    })
    .await;
    // 30 rounds of 20 messages of 40 kB: far beyond what the sockets' kernel buffers absorb.
    let slow = edits_heard_past_a_slow_reader(&app, 30).await;
    assert_dropped_as_slow(&app, slow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sockets_with_1001() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let mut client = WsClient::ready(&app.base, None).await;
    client.listen("1", POST_ADDED, json!({})).await;
    app.begin_shutdown();
    assert_eq!(client.closed().await, Some(1001));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_malformed_messages_close_the_socket() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.ws_max_message_bytes = 1024).await;
    let mut client = WsClient::ready(&app.base, None).await;
    let huge = format!(
        "subscription {{ postAdded {{ id }} }} # {}",
        "x".repeat(2000)
    );
    client.subscribe("1", &huge, json!({})).await;
    assert_eq!(client.closed().await, Some(1009));
    let mut client = WsClient::ready(&app.base, None).await;
    client.send(json!({ "type": "start", "id": "1" })).await;
    assert_eq!(client.closed().await, Some(4400));
    let mut twice = WsClient::ready(&app.base, None).await;
    assert_eq!(twice.init(json!({})).await, Heard::Closed(Some(4429)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_without_upgrade_still_answers_queries() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app
        .client()
        .get(format!("{}/graphql?query=%7B__typename%7D", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["__typename"], "Query");
}

/// Python `gql`'s WebSocket transport looks up the upgrade's `Sec-WebSocket-Protocol` header in the case
/// it spelled it (and falls back to the legacy protocol when it does not find it): the answer spells each
/// header name as the client did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upgrade_names_its_headers_in_canonical_case() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut socket = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    socket
        .write_all(
            b"GET /graphql HTTP/1.1\r\nHost: board\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
              Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut buf = [0_u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(30), socket.read(&mut buf))
            .await
            .expect("no answer to the upgrade")
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&head));
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    for line in [
        "\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n",
        "\r\nUpgrade: websocket\r\n",
    ] {
        assert!(head.contains(line), "{line:?} not in {head}");
    }
}
