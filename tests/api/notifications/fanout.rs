//! The fan-out: a post watched by many is notified in chunks after the comment answered (the comment's own
//! request does the same work however many watch), and `notificationAdded` pushes each member their own
//! notifications over graphql-ws — on any replica.

use super::*;
use crate::helpers::ws::{Heard, WsClient};

configured_tests!(
    many_watchers_are_notified_in_chunks_outside_the_commenters_request => |c| {
        c.notification_fanout_chunk = 3;
    },
    a_mention_does_not_wait_behind_a_busy_threads_watchers => |c| {
        // One member per statement: each comment's watchers take many statements.
        c.notification_fanout_chunk = 1;
    },
);
backend_tests!(
    notification_added_pushes_each_member_their_own,
    a_member_told_directly_is_pushed_once_also_amid_watchers
);

const ADDED: &str =
    "subscription { notificationAdded { id kind read actor { name } subject { id } } }";

async fn many_watchers_are_notified_in_chunks_outside_the_commenters_request(app: TestApp) {
    let author = member(&app, "author").await;
    let commenter = member(&app, "commenter").await;
    let category = app.first_category().await;
    let quiet = app
        .create_post(&author.access, &category, "quiet", "no watchers")
        .await;
    let watched = app
        .create_post(&author.access, &category, "watched", "many watchers")
        .await;
    let mut watchers = Vec::new();
    for i in 0..10 {
        let who = member(&app, &format!("watcher{i}")).await;
        app.ok(
            "mutation($id: ID!) { watchPost(input: { postId: $id, watching: true }) { post { id } } }",
            json!({ "id": watched }),
            Some(&who.access),
        )
        .await;
        watchers.push(who);
    }
    // The commenter's request costs the same round trips with 0 watchers as with 10.
    let create = |post: &str| json!({ "i": { "postId": post, "content": "hello" } });
    comment(&app, &commenter, &quiet, None, "warm up").await;
    comment(&app, &commenter, &watched, None, "warm up").await;
    let (_, db_quiet, _) = app
        .gql_counted(CREATE_COMMENT, create(&quiet), Some(&commenter.access))
        .await;
    let (body, db_watched, _) = app
        .gql_counted(CREATE_COMMENT, create(&watched), Some(&commenter.access))
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(db_quiet, db_watched, "the fan-out is not in the request");

    let last = body["data"]["createComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for who in &watchers {
        // Two comments on the watched post: the warm-up and the last, one notification each.
        let found = await_count(&app, who, 2).await;
        assert_eq!(found[0], ("WATCHED_POST_COMMENT".to_owned(), last.clone()));
    }
    let metrics = app.metrics_text().await;
    let created = metrics
        .lines()
        .find(|l| {
            l.starts_with("board_notifications_created_total")
                && l.contains("kind=\"WATCHED_POST_COMMENT\"")
        })
        .unwrap_or_else(|| panic!("no notification counter in:\n{metrics}"));
    let count: f64 = created.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 20.0, "{created}");
    assert!(
        metrics.contains("board_notifications_fanout_recipients_bucket"),
        "fan-out sizes are measured"
    );
}

async fn notification_added_pushes_each_member_their_own(app: TestApp) {
    let alice = member(&app, "alice").await;
    let bob = member(&app, "bob").await;
    let carol = member(&app, "carol").await;
    let category = app.first_category().await;
    let post = app
        .create_post(&alice.access, &category, "hello", "world")
        .await;
    // Anonymous sockets are refused the subscription.
    let mut anonymous = WsClient::ready(&app.base, None).await;
    anonymous.subscribe("n", ADDED, json!({})).await;
    match anonymous.hear().await {
        Heard::Message(m) => {
            assert_eq!(m["type"], "error", "{m:#}");
            assert_eq!(m["payload"][0]["extensions"]["code"], "UNAUTHENTICATED");
        }
        other => panic!("{other:?}"),
    }
    // A replica beside this one (on MariaDB + Redis a second process; on SQLite the same database, events
    // in process) delivers Carol's.
    let mut to_alice = WsClient::ready(&app.base, Some(&alice.access)).await;
    to_alice.listen("n", ADDED, json!({})).await;
    let beside = match app.backend {
        crate::helpers::Backend::MariaDb => Some(app.spawn_beside().await),
        crate::helpers::Backend::Sqlite => None,
    };
    let carol_base = beside.as_ref().map_or(app.base.clone(), |b| b.base.clone());
    let mut to_carol = WsClient::ready(&carol_base, Some(&carol.access)).await;
    to_carol.listen("n", ADDED, json!({})).await;

    let reply = comment(&app, &bob, &post, None, "hi alice").await;
    let heard = to_alice.next_of("n").await;
    let pushed = &heard["data"]["notificationAdded"];
    assert_eq!(pushed["kind"], "REPLY");
    assert_eq!(pushed["read"], false);
    assert_eq!(pushed["actor"]["name"], "bob");
    assert_eq!(pushed["subject"]["id"], reply.as_str());
    assert_eq!(
        inbox(&app, &alice).await["notifications"]["nodes"][0]["id"],
        pushed["id"],
        "the pushed notification is the one in the inbox"
    );
    // Carol's first push is her own mention, not Alice's reply.
    let mention = comment(&app, &bob, &post, None, "and @carol").await;
    let heard = to_carol.next_of("n").await;
    assert_eq!(heard["data"]["notificationAdded"]["kind"], "MENTION");
    assert_eq!(
        heard["data"]["notificationAdded"]["subject"]["id"],
        mention.as_str()
    );
}

/// The author of a post is told of a top-level comment directly (`REPLY`); the post's watchers after, in a
/// chunk of their own. When the author's id lies between the watchers' ids, the watchers' chunk must not
/// push the author's notification a second time (the inbox holds it once; the socket must too).
async fn a_member_told_directly_is_pushed_once_also_amid_watchers(app: TestApp) {
    let before = member(&app, "wa").await;
    let author = member(&app, "author").await;
    let after = member(&app, "wc").await;
    let bob = member(&app, "bob").await;
    let category = app.first_category().await;
    let post = app
        .create_post(&author.access, &category, "watched", "by two")
        .await;
    for watcher in [&before, &after] {
        app.ok(
            "mutation($i: WatchPostInput!) { watchPost(input: $i) { post { id } } }",
            json!({ "i": { "postId": post, "watching": true } }),
            Some(&watcher.access),
        )
        .await;
    }
    let mut to_author = WsClient::ready(&app.base, Some(&author.access)).await;
    to_author.listen("n", ADDED, json!({})).await;

    let reply = comment(&app, &bob, &post, None, "a plain comment").await;
    let heard = to_author.next_of("n").await;
    assert_eq!(heard["data"]["notificationAdded"]["kind"], "REPLY");
    assert_eq!(
        heard["data"]["notificationAdded"]["subject"]["id"],
        reply.as_str()
    );
    // A later write the author hears of: the next push must be it, not the reply again.
    let mention = comment(&app, &bob, &post, None, "and @author").await;
    let heard = to_author.next_of("n").await;
    assert_eq!(
        heard["data"]["notificationAdded"]["subject"]["id"],
        mention.as_str(),
        "the next push is the mention, not the reply a second time: {heard:#}"
    );
    assert_eq!(inbox(&app, &author).await["notifications"]["totalCount"], 2);
}

/// Three comments on a post with 60 watchers queue three long watcher fan-outs; a mention written right
/// after them is told before the last of those fan-outs (every write's direct part goes before any write's
/// watchers): its notification's id is below the last watcher's.
async fn a_mention_does_not_wait_behind_a_busy_threads_watchers(app: TestApp) {
    let author = member(&app, "author").await;
    let named = member(&app, "named").await;
    let category = app.first_category().await;
    let busy = app
        .create_post(&author.access, &category, "busy", "watched by many")
        .await;
    let mut watchers = Vec::new();
    for i in 0..60 {
        let who = member(&app, &format!("w{i:02}")).await;
        app.ok(
            "mutation($id: ID!) { watchPost(input: { postId: $id, watching: true }) { post { id } } }",
            json!({ "id": busy }),
            Some(&who.access),
        )
        .await;
        watchers.push(who);
    }
    app.settle_fanout().await;
    for n in 0..3 {
        comment(&app, &author, &busy, None, &format!("comment {n}")).await;
    }
    app.create_post(&author.access, &category, "elsewhere", "hello @named")
        .await;
    app.settle_fanout().await;
    let id_of = |v: &Value| -> i64 {
        let id = async_graphql::ID(v.as_str().unwrap().to_owned());
        board::graphql::ids::decode_as("id", &id, "Notification").unwrap()
    };
    let mention = inbox(&app, &named).await["notifications"]["nodes"][0]["id"].clone();
    let mut last_watcher = 0;
    for who in &watchers {
        let newest = &inbox(&app, who).await["notifications"]["nodes"][0];
        assert_eq!(newest["kind"], "WATCHED_POST_COMMENT");
        last_watcher = last_watcher.max(id_of(&newest["id"]));
    }
    assert!(
        id_of(&mention) < last_watcher,
        "the mention ({}) was written after every watcher ({last_watcher})",
        id_of(&mention)
    );
}
