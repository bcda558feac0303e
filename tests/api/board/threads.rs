//! Threaded replies: placement and the depth clamp, the parent rule, top-level lists, reply pages, the
//! counters through delete, removal and restore, the cache, round trips and the subscription.

use super::*;
use crate::helpers::ws::WsClient;

backend_tests!(
    replies_nest_to_depth_eight_then_go_beside,
    a_parent_must_be_a_live_comment_of_the_same_post,
    top_level_only_lists_the_comments_on_the_post,
    reply_pages_go_both_ways_with_their_total,
    counters_follow_delete_removal_and_restore,
    a_reply_is_seen_by_the_next_read_of_a_warm_cache,
    reply_pages_of_a_whole_page_cost_fixed_round_trips,
    comment_added_carries_the_thread,
    concurrent_replies_and_deletes_keep_the_counters_exact,
);

const REPLY: &str = "mutation($i: CreateCommentInput!) { createComment(input: $i) { comment { id depth parent { id } } } }";
const DELETE: &str =
    "mutation($id: ID!) { deleteComment(input: { commentId: $id }) { deletedId } }";
const REMOVE: &str = "mutation($id: ID!) { removeContent(input: { subjectId: $id, reason: \"스팸 spam\" }) { subject { id } } }";
const RESTORE: &str =
    "mutation($id: ID!) { restoreContent(input: { subjectId: $id }) { subject { id } } }";
const REPLIES: &str = "query($id: ID!, $f: Int, $a: String, $l: Int, $b: String) { comment(id: $id) { replies(first: $f, after: $a, last: $l, before: $b) \
     { totalCount nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }";
const COUNTS: &str = "query($id: ID!) { post(id: $id) { commentCount all: comments { totalCount nodes { id } } \
     top: comments(topLevelOnly: true) { totalCount nodes { id } } } }";

async fn member(app: &TestApp, name: &str) -> Session {
    app.sign_up(name, &format!("{name}@example.com"), "password-1")
        .await
}

/// A reply to `parent`; answers the created comment (`id depth parent { id }`).
async fn reply(app: &TestApp, who: &Session, post: &str, parent: &str, content: &str) -> Value {
    let data = app
        .ok(
            REPLY,
            json!({ "i": { "postId": post, "parentId": parent, "content": content } }),
            Some(&who.access),
        )
        .await;
    data["createComment"]["comment"].clone()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn replies(app: &TestApp, comment: &str, args: Value, token: Option<&str>) -> Value {
    let mut variables = args;
    variables["id"] = comment.into();
    app.ok(REPLIES, variables, token).await["comment"]["replies"].clone()
}

async fn counts(app: &TestApp, post: &str, token: Option<&str>) -> (i64, i64, i64, Vec<String>) {
    let data = app.ok(COUNTS, json!({ "id": post }), token).await;
    let p = &data["post"];
    (
        p["commentCount"].as_i64().unwrap(),
        p["all"]["totalCount"].as_i64().unwrap(),
        p["top"]["totalCount"].as_i64().unwrap(),
        ids(&p["top"]["nodes"]),
    )
}

/// Depth 0 at the top; each reply one deeper up to 8; a reply to a depth-8 comment goes beside it, under
/// its depth-7 parent, at depth 8 again.
async fn replies_nest_to_depth_eight_then_go_beside(app: TestApp) {
    let author = member(&app, "철수kim").await;
    let tech = category(&app, "tech").await;
    let post_id = post(&app, &author, &tech, "스레드", "깊이").await;
    let top = comment(&app, &author, &post_id, "top").await;
    let mut chain = vec![(top.clone(), 0)];
    for n in 1..=10 {
        let answered = chain.last().unwrap().0.clone();
        let created = reply(&app, &author, &post_id, &answered, &format!("답글 {n}")).await;
        let depth = created["depth"].as_i64().unwrap();
        chain.push((created["id"].as_str().unwrap().to_owned(), depth));
        let expected_parent = if n <= 8 {
            answered
        } else {
            chain[7].0.clone() // the depth-7 comment
        };
        assert_eq!(
            created["parent"]["id"],
            expected_parent.as_str(),
            "reply {n}"
        );
    }
    let depths: Vec<i64> = chain.iter().map(|c| c.1).collect();
    assert_eq!(depths, [0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 8]);
    // The depth-7 comment holds the depth-8 one and both replies that went beside it, oldest first.
    let under_seven = replies(&app, &chain[7].0, json!({}), None).await;
    assert_eq!(under_seven["totalCount"], 3);
    assert_eq!(
        ids(&under_seven["nodes"]),
        [chain[8].0.clone(), chain[9].0.clone(), chain[10].0.clone()]
    );
    assert_eq!(
        replies(&app, &chain[8].0, json!({}), None).await["totalCount"],
        0
    );
    let (all, _, top_level, _) = counts(&app, &post_id, None).await;
    assert_eq!((all, top_level), (11, 1));
}

/// Another post's comment, an unknown id, a post's id and a deleted comment are all `BAD_USER_INPUT` on
/// `parentId`; nothing is written.
async fn a_parent_must_be_a_live_comment_of_the_same_post(app: TestApp) {
    let author = member(&app, "writer").await;
    let life = category(&app, "life").await;
    let here = post(&app, &author, &life, "here", "x").await;
    let there = post(&app, &author, &life, "there", "y").await;
    let elsewhere = comment(&app, &author, &there, "elsewhere").await;
    let gone = comment(&app, &author, &here, "gone").await;
    app.ok(DELETE, json!({ "id": gone }), Some(&author.access))
        .await;
    use base64::Engine as _;
    let unknown = base64::engine::general_purpose::STANDARD.encode("Comment:987654321");
    for parent in [
        elsewhere.as_str(),
        unknown.as_str(),
        here.as_str(),
        gone.as_str(),
    ] {
        let body = app
            .gql(
                REPLY,
                json!({ "i": { "postId": here, "parentId": parent, "content": "답" } }),
                Some(&author.access),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{parent}: {body:#}");
        assert_eq!(field(&body), "parentId", "{parent}");
    }
    let (all, listed, top_level, _) = counts(&app, &here, None).await;
    assert_eq!((all, listed, top_level), (0, 0, 0), "nothing was written");
    assert_eq!(
        replies(&app, &elsewhere, json!({}), None).await["totalCount"],
        0
    );
}

async fn top_level_only_lists_the_comments_on_the_post(app: TestApp) {
    let author = member(&app, "poster").await;
    let news = category(&app, "news").await;
    let post_id = post(&app, &author, &news, "top", "level").await;
    let first = comment(&app, &author, &post_id, "one").await;
    let answer = reply(&app, &author, &post_id, &first, "re: one").await;
    let second = comment(&app, &author, &post_id, "two").await;
    reply(
        &app,
        &author,
        &post_id,
        answer["id"].as_str().unwrap(),
        "re: re",
    )
    .await;
    let third = comment(&app, &author, &post_id, "three").await;
    // Twice: the second read is served from the warm cache entries.
    for _ in 0..2 {
        let (all, listed, top_level, top_ids) = counts(&app, &post_id, None).await;
        assert_eq!((all, listed, top_level), (5, 5, 3));
        assert_eq!(top_ids, [first.clone(), second.clone(), third.clone()]);
    }
    let page = app
        .ok(
            "query($id: ID!) { post(id: $id) { comments(topLevelOnly: true, first: 2) { nodes { id depth parent { id } } pageInfo { hasNextPage endCursor } } } }",
            json!({ "id": post_id }),
            None,
        )
        .await;
    let comments = &page["post"]["comments"];
    assert_eq!(ids(&comments["nodes"]), [first.clone(), second.clone()]);
    assert_eq!(comments["nodes"][0]["depth"], 0);
    assert_eq!(comments["nodes"][0]["parent"], Value::Null);
    assert_eq!(comments["pageInfo"]["hasNextPage"], true);
    let rest = app
        .ok(
            "query($id: ID!, $a: String) { post(id: $id) { comments(topLevelOnly: true, first: 2, after: $a) { nodes { id } } } }",
            json!({ "id": post_id, "a": comments["pageInfo"]["endCursor"] }),
            None,
        )
        .await;
    assert_eq!(ids(&rest["post"]["comments"]["nodes"]), [third]);
}

async fn reply_pages_go_both_ways_with_their_total(app: TestApp) {
    let author = member(&app, "pager").await;
    let tech = category(&app, "tech").await;
    let post_id = post(&app, &author, &tech, "pages", "of replies").await;
    let parent = comment(&app, &author, &post_id, "parent").await;
    let mut r = Vec::new();
    for n in 0..5 {
        let created = reply(&app, &author, &post_id, &parent, &format!("r{n}")).await;
        r.push(created["id"].as_str().unwrap().to_owned());
    }
    let first = replies(&app, &parent, json!({ "f": 2 }), None).await;
    assert_eq!(first["totalCount"], 5);
    assert_eq!(ids(&first["nodes"]), r[0..2]);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let next = replies(
        &app,
        &parent,
        json!({ "f": 2, "a": first["pageInfo"]["endCursor"] }),
        None,
    )
    .await;
    assert_eq!(ids(&next["nodes"]), r[2..4]);
    assert_eq!(next["totalCount"], 5);
    let last = replies(&app, &parent, json!({ "l": 2 }), None).await;
    assert_eq!(
        ids(&last["nodes"]),
        r[3..5],
        "backwards: still oldest first"
    );
    assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(last["totalCount"], 5);
    let before = replies(
        &app,
        &parent,
        json!({ "l": 2, "b": last["pageInfo"]["startCursor"] }),
        None,
    )
    .await;
    assert_eq!(ids(&before["nodes"]), r[1..3]);
    let start = replies(
        &app,
        &parent,
        json!({ "l": 5, "b": before["pageInfo"]["startCursor"] }),
        None,
    )
    .await;
    assert_eq!(ids(&start["nodes"]), r[0..1]);
    assert_eq!(start["pageInfo"]["hasPreviousPage"], false);
}

/// Delete, removal and restore move the parent's reply count, the post's comment count and its top-level
/// count exactly as they move today's comment count; replies of a removed parent stay listed, with a
/// `parent` only those who may see it get.
async fn counters_follow_delete_removal_and_restore(app: TestApp) {
    let author = member(&app, "counted").await;
    let admin = app.admin().await;
    let career = category(&app, "career").await;
    let post_id = post(&app, &author, &career, "counters", "kept").await;
    let parent = comment(&app, &author, &post_id, "parent").await;
    let mut r = Vec::new();
    for n in 0..3 {
        let created = reply(&app, &author, &post_id, &parent, &format!("r{n}")).await;
        r.push(created["id"].as_str().unwrap().to_owned());
    }
    let total = |v: Value| v["totalCount"].as_i64().unwrap();
    assert_eq!(total(replies(&app, &parent, json!({}), None).await), 3);
    assert_eq!(counts(&app, &post_id, None).await.0, 4);

    app.ok(DELETE, json!({ "id": r[0] }), Some(&author.access))
        .await;
    assert_eq!(total(replies(&app, &parent, json!({}), None).await), 2);
    assert_eq!(counts(&app, &post_id, None).await.0, 3);

    app.ok(REMOVE, json!({ "id": r[1] }), Some(&admin.access))
        .await;
    let left = replies(&app, &parent, json!({}), None).await;
    assert_eq!(
        (total(left.clone()), ids(&left["nodes"])),
        (1, vec![r[2].clone()])
    );
    assert_eq!(counts(&app, &post_id, None).await.0, 2);

    app.ok(RESTORE, json!({ "id": r[1] }), Some(&admin.access))
        .await;
    let back = replies(&app, &parent, json!({}), None).await;
    assert_eq!(total(back.clone()), 2);
    assert_eq!(ids(&back["nodes"]), [r[1].clone(), r[2].clone()]);
    assert_eq!(counts(&app, &post_id, None).await.0, 3);

    // The parent itself removed: the post's counts drop by one (its live replies stay counted and
    // listed), and no one may reply to it.
    app.ok(REMOVE, json!({ "id": parent }), Some(&admin.access))
        .await;
    let (all, listed, top_level, _) = counts(&app, &post_id, None).await;
    assert_eq!((all, listed, top_level), (2, 2, 0));
    let refused = app
        .gql(
            REPLY,
            json!({ "i": { "postId": post_id, "parentId": parent, "content": "late" } }),
            Some(&author.access),
        )
        .await;
    assert_eq!(
        (code(&refused), field(&refused)),
        ("BAD_USER_INPUT", "parentId")
    );
    let orphan =
        "query($id: ID!) { comment(id: $id) { depth parent { id replies { totalCount } } } }";
    let anonymous = app.ok(orphan, json!({ "id": r[2] }), None).await;
    assert_eq!(anonymous["comment"]["depth"], 1);
    assert_eq!(
        anonymous["comment"]["parent"],
        Value::Null,
        "hidden from anonymous"
    );
    let moderator = app
        .ok(orphan, json!({ "id": r[2] }), Some(&admin.access))
        .await;
    assert_eq!(moderator["comment"]["parent"]["id"], parent.as_str());
    assert_eq!(moderator["comment"]["parent"]["replies"]["totalCount"], 2);

    app.ok(RESTORE, json!({ "id": parent }), Some(&admin.access))
        .await;
    let (all, _, top_level, top_ids) = counts(&app, &post_id, None).await;
    assert_eq!((all, top_level, top_ids), (3, 1, vec![parent.clone()]));
    assert_eq!(total(replies(&app, &parent, json!({}), None).await), 2);
}

/// Reads warm the cache (post, first comments, comments); a reply deletes what it changed, so the very
/// next read shows it and the new counts.
async fn a_reply_is_seen_by_the_next_read_of_a_warm_cache(app: TestApp) {
    let author = member(&app, "warm").await;
    let life = category(&app, "life").await;
    let post_id = post(&app, &author, &life, "warm", "cache").await;
    let parent = comment(&app, &author, &post_id, "parent").await;
    let q = "query($id: ID!) { post(id: $id) { commentCount comments(first: 10) { totalCount nodes { id \
             replies(first: 3) { totalCount nodes { id content } } } } } }";
    let before = app.ok(q, json!({ "id": post_id }), None).await;
    let (warm, _, _) = app.gql_counted(q, json!({ "id": post_id }), None).await;
    assert_eq!(warm["data"], before, "warm read");
    assert_eq!(
        before["post"]["comments"]["nodes"][0]["replies"]["totalCount"],
        0
    );

    let created = reply(&app, &author, &post_id, &parent, "새 답글 new").await;
    let after = app.ok(q, json!({ "id": post_id }), None).await;
    let post = &after["post"];
    assert_eq!(post["commentCount"], 2);
    assert_eq!(post["comments"]["totalCount"], 2);
    let first = &post["comments"]["nodes"][0];
    assert_eq!(first["id"], parent.as_str());
    assert_eq!(first["replies"]["totalCount"], 1);
    assert_eq!(first["replies"]["nodes"][0]["id"], created["id"]);
    assert_eq!(first["replies"]["nodes"][0]["content"], "새 답글 new");
    assert_eq!(post["comments"]["nodes"][1]["id"], created["id"]);
}

/// The page the brief asks about: a post with its first 10 comments and each one's first 3 replies. The
/// replies of all 10 comments are one windowed query; everything else is read by id through the cache.
const THREAD_PAGE: &str = "query($id: ID!) { post(id: $id) { comments(first: 10) { nodes { \
     replies(first: 3) { totalCount nodes { id } } } } } }";

async fn thread_with(app: &TestApp, who: &Session, category: &str, comments: usize) -> String {
    let post_id = post(app, who, category, "round trips", "count").await;
    for c in 0..comments {
        let top = comment(app, who, &post_id, &format!("c{c}")).await;
        for n in 0..2 {
            reply(app, who, &post_id, &top, &format!("c{c} r{n}")).await;
        }
    }
    post_id
}

/// Database round trips of [`THREAD_PAGE`] for a post with `commented` top-level comments (2 replies
/// each): (first read after the writes, warm read).
async fn thread_page_round_trips(app: &TestApp, commented: usize) -> (u64, u64) {
    let author = member(app, &format!("counter{commented}")).await;
    let tech = category(app, "tech").await;
    let post_id = thread_with(app, &author, &tech, commented).await;
    let (first, first_db, _) = app
        .gql_counted(THREAD_PAGE, json!({ "id": post_id }), None)
        .await;
    assert!(first.get("errors").is_none(), "{first:#}");
    let nodes = first["data"]["post"]["comments"]["nodes"]
        .as_array()
        .unwrap();
    assert_eq!(nodes.len(), (commented * 3).min(10));
    assert!(nodes.iter().any(|n| n["replies"]["totalCount"] == 2));
    let (warm, warm_db, _) = app
        .gql_counted(THREAD_PAGE, json!({ "id": post_id }), None)
        .await;
    assert_eq!(warm["data"], first["data"]);
    (first_db, warm_db)
}

/// Warm, the page costs exactly 1 database round trip — the replies of all its comments in one windowed
/// query (reply pages are not cached: docs/threads.md) —, whether the post has 4 commented comments or 10.
async fn reply_pages_of_a_whole_page_cost_fixed_round_trips(app: TestApp) {
    let small = thread_page_round_trips(&app, 4).await;
    let large = thread_page_round_trips(&app, 10).await;
    eprintln!("thread page round trips (after the writes, warm): {small:?} {large:?}");
    assert_eq!((small.1, large.1), (1, 1));
    // After the writes some entries are still warm (the post, the new replies); never more than cold.
    assert!(small.0 <= 5 && large.0 <= 5);
}

/// With caching off every read is a database read: exactly 5 round trips — the post, its first comments,
/// those comments by id, the replies of all of them (one query), the replies by id (those the first page
/// did not list already) —, for 4 commented comments as for 10.
mod cold_thread_page {
    use super::*;
    use crate::helpers::Backend;

    async fn run(backend: Backend) {
        let app = TestApp::spawn_with(backend, |c| c.cache_ttl_secs = 0).await;
        let small = thread_page_round_trips(&app, 4).await;
        let large = thread_page_round_trips(&app, 10).await;
        eprintln!("cold thread page round trips ({backend:?}): {small:?} {large:?}");
        assert_eq!([small, large], [(5, 5), (5, 5)]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
    async fn mariadb_redis() {
        run(Backend::MariaDb).await;
    }
}

/// `commentAdded` carries the reply's depth and parent.
async fn comment_added_carries_the_thread(app: TestApp) {
    let author = member(&app, "listener").await;
    let news = category(&app, "news").await;
    let post_id = post(&app, &author, &news, "live", "thread").await;
    let parent = comment(&app, &author, &post_id, "parent").await;
    let mut client = WsClient::ready(&app.base, None).await;
    client
        .listen(
            "t",
            "subscription($p: ID!) { commentAdded(postId: $p) { id depth parent { id } replies { totalCount } } }",
            json!({ "p": post_id }),
        )
        .await;
    let created = reply(&app, &author, &post_id, &parent, "실시간 live").await;
    let heard = client.next_of("t").await;
    let added = &heard["data"]["commentAdded"];
    assert_eq!(added["id"], created["id"]);
    assert_eq!(added["depth"], 1);
    assert_eq!(added["parent"]["id"], parent.as_str());
    assert_eq!(added["replies"]["totalCount"], 0);
}

/// Replies to one comment and deletes of its older replies, all at once: none fails, and the counters end
/// exactly at what is listed.
async fn concurrent_replies_and_deletes_keep_the_counters_exact(app: TestApp) {
    let author = member(&app, "racer").await;
    let life = category(&app, "life").await;
    let post_id = post(&app, &author, &life, "race", "on").await;
    let parent = comment(&app, &author, &post_id, "parent").await;
    let mut old = Vec::new();
    for n in 0..4 {
        let created = reply(&app, &author, &post_id, &parent, &format!("old {n}")).await;
        old.push(created["id"].as_str().unwrap().to_owned());
    }
    let replying = (0..8).map(|n| {
        app.gql(
            REPLY,
            json!({ "i": { "postId": post_id, "parentId": parent, "content": format!("new {n}") } }),
            Some(&author.access),
        )
    });
    let deleting = old
        .iter()
        .map(|id| app.gql(DELETE, json!({ "id": id }), Some(&author.access)));
    let (replied, deleted) = futures::join!(join_all(replying), join_all(deleting));
    for body in replied.iter().chain(deleted.iter()) {
        assert!(body.get("errors").is_none(), "{body:#}");
    }
    let listed = replies(&app, &parent, json!({ "f": 100 }), None).await;
    assert_eq!(listed["totalCount"], 8);
    assert_eq!(listed["nodes"].as_array().unwrap().len(), 8);
    let (all, listed_all, top_level, _) = counts(&app, &post_id, None).await;
    assert_eq!((all, listed_all, top_level), (9, 9, 1));
}
