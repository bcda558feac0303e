//! Signed-in reads as cheap as anonymous ones: the viewer's own fields come from the cache, and a warm
//! signed-in read costs no database round trip — yet the viewer's vote, a role change or a block is seen by
//! the very next read, on this server and on another one sharing the database and the cache.

use super::*;
use crate::helpers::{Backend, unique};

backend_tests!(warm_signed_in_reads_skip_the_database_and_follow_the_viewers_votes);

/// The same without the near cache (so without kept answers): the viewer's entries come from the shared
/// cache.
mod without_the_near_cache {
    use crate::helpers::{Backend, TestApp};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = TestApp::spawn_with(Backend::Sqlite, |c| c.near_cache_ttl_ms = 0).await;
        super::warm_signed_in_reads_skip_the_database_and_follow_the_viewers_votes(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
    async fn mariadb_redis() {
        crate::helpers::require_external();
        let app = TestApp::spawn_with(Backend::MariaDb, |c| c.near_cache_ttl_ms = 0).await;
        super::warm_signed_in_reads_skip_the_database_and_follow_the_viewers_votes(app).await;
    }
}

const PAGE: &str = "query($c: ID) { posts(categoryId: $c, first: 20) { totalCount edges { node { id title voteCount \
     commentCount viewerHasVoted viewerCanEdit viewerCanDelete author { name } category { name } } } } }";
const POST: &str = "query($id: ID!) { post(id: $id) { title voteCount viewerHasVoted viewerCanEdit \
     comments(first: 10) { nodes { content voteCount viewerHasVoted author { name } } } } }";
const VIEWER: &str = "{ viewer { name role } }";
const VOTE_COMMENT: &str =
    "mutation($id: ID!) { voteComment(input: { commentId: $id }) { comment { viewerHasVoted } } }";

/// One read as `token`: (body, database round trips, answered from a kept answer).
pub(super) async fn read(
    app: &TestApp,
    query: &str,
    variables: &Value,
    token: &str,
) -> (Value, u64, bool) {
    app.settle_fanout().await;
    let response = app
        .post(
            &json!({ "query": query, "variables": variables }),
            Some(token),
        )
        .await;
    let db = response.headers()["x-db-round-trips"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let kept = response.headers().get("x-answer-kept").is_some();
    let body: Value = response.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body:#}");
    (body, db, kept)
}

/// Reads until warm, and answers the warm answer: resolved from the cache alone (0 database round trips),
/// then — with the near cache, which kept answers need — served as the kept answer. (Another member's
/// answer filled with this viewer's fields is kept too, and reads the database only to fill the viewer's
/// entries the first time.)
pub(super) async fn warm(app: &TestApp, query: &str, variables: &Value, token: &str) -> Value {
    let keeps = app.config.near_cache_ttl_ms != 0;
    let mut resolved: Option<Value> = None;
    for _ in 0..4 {
        let (body, db, kept) = read(app, query, variables, token).await;
        if kept && db > 0 {
            resolved = Some(body);
            continue;
        }
        if kept {
            assert_eq!(db, 0);
            if let Some(resolved) = resolved {
                assert_eq!(
                    body["data"], resolved["data"],
                    "a kept answer is the answer it replaced"
                );
                // With the cost numbers of this request: the same cost, spent again.
                assert_eq!(
                    body["extensions"]["cost"]["requested"],
                    resolved["extensions"]["cost"]["requested"]
                );
            }
            return body;
        }
        if db == 0 && !keeps {
            return body;
        }
        resolved = Some(body);
    }
    panic!("a warm signed-in read still went to the database (or was never kept): {query}");
}

fn node<'a>(page: &'a Value, id: &str) -> &'a Value {
    page["data"]["posts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["id"] == id)
        .unwrap_or_else(|| panic!("post {id} not on the page: {page:#}"))
}

/// A category with posts by `author`, the first commented by `author`: (category, posts, comment).
async fn seed(app: &TestApp, author: &Session) -> (String, Vec<String>, String) {
    let category = app.first_category().await;
    let mut posts = Vec::new();
    for n in 0..3 {
        posts.push(post(app, author, &category, &format!("post {n}"), "body").await);
    }
    let first = comment(app, author, &posts[0], "first!").await;
    (category, posts, first)
}

async fn warm_signed_in_reads_skip_the_database_and_follow_the_viewers_votes(app: TestApp) {
    let author = app
        .sign_up("author", "author@example.com", "password-1")
        .await;
    let voter = app
        .sign_up("철수kim", "voter@example.com", "password-1")
        .await;
    let (category, posts, first_comment) = seed(&app, &author).await;
    app.ok(VOTE, json!({ "id": posts[0] }), Some(&voter.access))
        .await;
    app.ok(
        VOTE_COMMENT,
        json!({ "id": first_comment }),
        Some(&voter.access),
    )
    .await;
    let page_vars = json!({ "c": category });
    let post_vars = json!({ "id": posts[0] });

    // Every warm signed-in read: a page, a post with its comments, the viewer.
    let page = warm(&app, PAGE, &page_vars, &voter.access).await;
    assert_eq!(node(&page, &posts[0])["viewerHasVoted"], true);
    assert_eq!(node(&page, &posts[1])["viewerHasVoted"], false);
    assert_eq!(node(&page, &posts[0])["viewerCanEdit"], false);
    let one = warm(&app, POST, &post_vars, &voter.access).await;
    assert_eq!(one["data"]["post"]["viewerHasVoted"], true);
    assert_eq!(
        one["data"]["post"]["comments"]["nodes"][0]["viewerHasVoted"],
        true
    );
    let me = warm(&app, VIEWER, &json!({}), &voter.access).await;
    assert_eq!(me["data"]["viewer"]["name"], "철수kim");

    // Another viewer's answer to the same request is their own.
    let theirs = warm(&app, PAGE, &page_vars, &author.access).await;
    assert_eq!(node(&theirs, &posts[0])["viewerHasVoted"], false);
    assert_eq!(node(&theirs, &posts[0])["viewerCanEdit"], true);

    // The voter withdraws: their very next reads show it, and are warm again after one fill.
    app.ok(UNVOTE, json!({ "id": posts[0] }), Some(&voter.access))
        .await;
    // (Filled into the page's template: a vote changes only slots, docs/read-cache.md#counters-in-slots.)
    let (after, _, _) = read(&app, PAGE, &page_vars, &voter.access).await;
    assert_eq!(node(&after, &posts[0])["viewerHasVoted"], false);
    assert_eq!(
        node(&after, &posts[0])["voteCount"],
        node(&page, &posts[0])["voteCount"].as_i64().unwrap() - 1
    );
    let (one, _, _) = read(&app, POST, &post_vars, &voter.access).await;
    assert_eq!(one["data"]["post"]["viewerHasVoted"], false);
    warm(&app, PAGE, &page_vars, &voter.access).await;

    // A new comment is on the post's next read, whoever reads it.
    comment(&app, &voter, &posts[0], "second").await;
    let (one, _, _) = read(&app, POST, &post_vars, &author.access).await;
    let contents: Vec<&str> = one["data"]["post"]["comments"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["first!", "second"]);
    warm(&app, POST, &post_vars, &author.access).await;
}

/// Two servers on one MariaDB and one Redis: what a viewer does through one is seen by their next read
/// through the other, however warm it was there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn a_viewers_vote_role_and_block_are_seen_by_their_next_read_on_another_server() {
    crate::helpers::require_external();
    let one = TestApp::spawn(Backend::MariaDb).await;
    let other = one.spawn_beside().await;
    let admin = one.admin().await;
    let author = one
        .sign_up("author", "author@example.com", "password-1")
        .await;
    let name = format!("dev_{}", &unique("")[..6]);
    let viewer = one
        .sign_up(&name, &format!("{name}@example.com"), "password-1")
        .await;
    let (category, posts, _) = seed(&one, &author).await;
    let page_vars = json!({ "c": category });

    let before = warm(&other, PAGE, &page_vars, &viewer.access).await;
    assert_eq!(node(&before, &posts[1])["viewerHasVoted"], false);
    assert_eq!(node(&before, &posts[1])["viewerCanDelete"], false);

    // A vote through the first server.
    one.ok(VOTE, json!({ "id": posts[1] }), Some(&viewer.access))
        .await;
    let (after, _, _) = read(&other, PAGE, &page_vars, &viewer.access).await;
    assert_eq!(node(&after, &posts[1])["viewerHasVoted"], true);
    assert_eq!(
        node(&after, &posts[1])["voteCount"],
        node(&before, &posts[1])["voteCount"].as_i64().unwrap() + 1
    );
    warm(&other, PAGE, &page_vars, &viewer.access).await;

    // A role change through the first server.
    one.ok(
        "mutation($i: SetUserRoleInput!) { setUserRole(input: $i) { user { role } } }",
        json!({ "i": { "userId": viewer.user_id, "role": "ADMIN" } }),
        Some(&admin.access),
    )
    .await;
    let (promoted, _, _) = read(&other, PAGE, &page_vars, &viewer.access).await;
    assert_eq!(node(&promoted, &posts[1])["viewerCanDelete"], true);
    warm(&other, PAGE, &page_vars, &viewer.access).await;

    // A block through the first server: the warm answer is not served to the blocked viewer.
    one.ok(
        "mutation($i: BlockUserInput!) { blockUser(input: $i) { user { id } } }",
        json!({ "i": { "userId": viewer.user_id } }),
        Some(&admin.access),
    )
    .await;
    let blocked = other
        .gql(PAGE, page_vars.clone(), Some(&viewer.access))
        .await;
    assert_eq!(code(&blocked), "UNAUTHENTICATED", "{blocked:#}");
}
