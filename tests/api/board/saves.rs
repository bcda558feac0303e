//! Saved posts: idempotent both ways and under concurrency, listed newest save first with keyset pages,
//! private to the viewer, without posts that were deleted or removed; `viewerHasSaved` comes from the
//! viewer's read model, so a warm signed-in page stays free of database round trips and the viewer's own
//! save is seen by their next read, on this server and on another.

use std::sync::Arc;

use super::signed_in::{read, warm};
use super::*;
use crate::helpers::{Backend, unique};

backend_tests!(
    saves_are_idempotent_private_and_listed_newest_first,
    deleted_and_removed_posts_leave_the_saved_list,
    concurrent_saves_of_one_post_keep_one_save,
    a_warm_signed_in_page_shows_saves_and_watches_and_follows_the_viewers_own,
);

const SAVE: &str =
    "mutation($id: ID!) { savePost(input: { postId: $id }) { post { id viewerHasSaved } } }";
const UNSAVE: &str =
    "mutation($id: ID!) { unsavePost(input: { postId: $id }) { post { id viewerHasSaved } } }";
const SAVED: &str = "query($first: Int, $after: String, $last: Int, $before: String) { viewer { savedPosts(first: $first, \
     after: $after, last: $last, before: $before) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor startCursor } \
     nodes { id title viewerHasSaved } } } }";
const WATCH: &str = "mutation($id: ID!, $w: Boolean!) { watchPost(input: { postId: $id, watching: $w }) { post { viewerIsWatching } } }";

/// The viewer's saved list with these arguments: (ids, page info, total).
async fn saved(app: &TestApp, who: &Session, args: Value) -> (Vec<String>, Value, i64) {
    let data = app.ok(SAVED, args, Some(&who.access)).await;
    let list = &data["viewer"]["savedPosts"];
    let ids = list["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            assert_eq!(n["viewerHasSaved"], true, "{n}");
            n["id"].as_str().unwrap().to_owned()
        })
        .collect();
    (
        ids,
        list["pageInfo"].clone(),
        list["totalCount"].as_i64().unwrap(),
    )
}

async fn save(app: &TestApp, who: &Session, post: &str) -> Value {
    app.ok(SAVE, json!({ "id": post }), Some(&who.access)).await["savePost"]["post"].clone()
}

async fn saves_are_idempotent_private_and_listed_newest_first(app: TestApp) {
    let author = app
        .sign_up("글쓴이kim", "author@example.com", "password-1")
        .await;
    let saver = app
        .sign_up("철수kim", "saver@example.com", "password-1")
        .await;
    let tech = category(&app, "tech").await;
    let mut posts = Vec::new();
    for n in 0..5 {
        posts.push(post(&app, &author, &tech, &format!("저장 {n}"), "본문").await);
    }
    for p in &posts {
        assert_eq!(save(&app, &saver, p).await["viewerHasSaved"], true);
    }
    // Saving again keeps the one save, and its place in the list.
    assert_eq!(save(&app, &saver, &posts[2]).await["viewerHasSaved"], true);
    let newest_first: Vec<String> = posts.iter().rev().cloned().collect();
    let (all, _, total) = saved(&app, &saver, json!({})).await;
    assert_eq!((all, total), (newest_first.clone(), 5));

    // Keyset pages forward, then backward from the end.
    let (first, info, _) = saved(&app, &saver, json!({ "first": 2 })).await;
    assert_eq!(first, newest_first[..2]);
    assert_eq!(
        (&info["hasNextPage"], &info["hasPreviousPage"]),
        (&json!(true), &json!(false))
    );
    let (second, info, _) = saved(
        &app,
        &saver,
        json!({ "first": 2, "after": info["endCursor"] }),
    )
    .await;
    assert_eq!(second, newest_first[2..4]);
    let (third, info, _) = saved(
        &app,
        &saver,
        json!({ "first": 2, "after": info["endCursor"] }),
    )
    .await;
    assert_eq!(third, newest_first[4..]);
    assert_eq!(info["hasNextPage"], false);
    let (back, info, _) = saved(
        &app,
        &saver,
        json!({ "last": 2, "before": info["startCursor"] }),
    )
    .await;
    assert_eq!(back, newest_first[2..4]);
    assert_eq!(
        (&info["hasNextPage"], &info["hasPreviousPage"]),
        (&json!(true), &json!(true))
    );

    // Unsaving is idempotent; saving again puts the post first.
    for _ in 0..2 {
        let data = app
            .ok(UNSAVE, json!({ "id": posts[3] }), Some(&saver.access))
            .await;
        assert_eq!(data["unsavePost"]["post"]["viewerHasSaved"], false);
    }
    let (after_unsave, _, total) = saved(&app, &saver, json!({})).await;
    assert_eq!(total, 4);
    assert!(!after_unsave.contains(&posts[3]));
    save(&app, &saver, &posts[3]).await;
    let (again, _, _) = saved(&app, &saver, json!({ "first": 1 })).await;
    assert_eq!(again, [posts[3].clone()]);

    // Private: null for other users, admins and the anonymous; false and refused for the anonymous.
    let theirs = "query($n: String!) { user(name: $n) { savedPosts { totalCount } } }";
    let admin = app.admin().await;
    for token in [Some(&author.access), Some(&admin.access), None] {
        let data = app
            .ok(theirs, json!({ "n": "철수kim" }), token.map(String::as_str))
            .await;
        assert_eq!(data["user"]["savedPosts"], Value::Null);
    }
    let anonymous = app
        .ok(
            "query($id: ID!) { post(id: $id) { viewerHasSaved } }",
            json!({ "id": posts[0] }),
            None,
        )
        .await;
    assert_eq!(anonymous["post"]["viewerHasSaved"], false);
    let refused = app.gql(SAVE, json!({ "id": posts[0] }), None).await;
    assert_eq!(code(&refused), "UNAUTHENTICATED");
    let refused = app.gql(UNSAVE, json!({ "id": posts[0] }), None).await;
    assert_eq!(code(&refused), "UNAUTHENTICATED");

    // Bad ids: a clear error naming the field; an unknown post: NOT_FOUND.
    let bad = app
        .gql(SAVE, json!({ "id": "not-an-id" }), Some(&saver.access))
        .await;
    assert_eq!((code(&bad), field(&bad)), ("BAD_USER_INPUT", "postId"));
    let unknown = ids_of_post(i64::MAX);
    let missing = app
        .gql(SAVE, json!({ "id": unknown }), Some(&saver.access))
        .await;
    assert_eq!(code(&missing), "NOT_FOUND");

    // A blocked member is locked out like from every other write.
    app.ok(
        "mutation($i: BlockUserInput!) { blockUser(input: $i) { user { id } } }",
        json!({ "i": { "userId": saver.user_id } }),
        Some(&admin.access),
    )
    .await;
    let blocked = app
        .gql(UNSAVE, json!({ "id": posts[0] }), Some(&saver.access))
        .await;
    assert_eq!(code(&blocked), "UNAUTHENTICATED");
}

/// The global id of a post, as the server makes it.
fn ids_of_post(id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("Post:{id}"))
}

async fn deleted_and_removed_posts_leave_the_saved_list(app: TestApp) {
    let author = app
        .sign_up("author", "author@example.com", "password-1")
        .await;
    let saver = app
        .sign_up("saver", "saver@example.com", "password-1")
        .await;
    let admin = app.admin().await;
    let life = category(&app, "life").await;
    let deleted = post(&app, &author, &life, "지울 글", "x").await;
    let removed = post(&app, &author, &life, "spam 광고", "x").await;
    let kept = post(&app, &author, &life, "남는 글", "x").await;
    for p in [&deleted, &removed, &kept] {
        save(&app, &saver, p).await;
    }
    let (before, _, total) = saved(&app, &saver, json!({})).await;
    assert_eq!((before.len(), total), (3, 3));

    app.ok(
        "mutation($id: ID!) { deletePost(input: { postId: $id }) { deletedId } }",
        json!({ "id": deleted }),
        Some(&author.access),
    )
    .await;
    app.ok(
        "mutation($id: ID!) { removeContent(input: { subjectId: $id, reason: \"광고\" }) { subject { id } } }",
        json!({ "id": removed }),
        Some(&admin.access),
    )
    .await;
    let (after, info, total) = saved(&app, &saver, json!({ "first": 1 })).await;
    assert_eq!((after, total), (vec![kept.clone()], 1));
    assert_eq!(
        info["hasNextPage"], false,
        "no page of hidden posts follows"
    );

    // Neither can be saved again, nor watched.
    for gone in [&deleted, &removed] {
        let refused = app
            .gql(SAVE, json!({ "id": gone }), Some(&saver.access))
            .await;
        assert_eq!(code(&refused), "NOT_FOUND");
        let refused = app
            .gql(WATCH, json!({ "id": gone, "w": true }), Some(&saver.access))
            .await;
        assert_eq!(code(&refused), "NOT_FOUND");
    }
}

async fn concurrent_saves_of_one_post_keep_one_save(app: TestApp) {
    let author = app
        .sign_up("author", "author@example.com", "password-1")
        .await;
    let saver = app
        .sign_up("saver", "saver@example.com", "password-1")
        .await;
    let news = category(&app, "news").await;
    let id = post(&app, &author, &news, "인기 글", "x").await;
    const AT_ONCE: usize = 8;
    let barrier = Arc::new(tokio::sync::Barrier::new(AT_ONCE));
    let saves = (0..AT_ONCE).map(|_| {
        let (app, id, saver, barrier) = (&app, &id, &saver, Arc::clone(&barrier));
        async move {
            barrier.wait().await;
            app.gql(SAVE, json!({ "id": id }), Some(&saver.access))
                .await
        }
    });
    for answer in join_all(saves).await {
        assert!(answer.get("errors").is_none(), "{answer:#}");
        assert_eq!(answer["data"]["savePost"]["post"]["viewerHasSaved"], true);
    }
    let (list, _, total) = saved(&app, &saver, json!({})).await;
    assert_eq!((list, total), (vec![id], 1));
}

const PAGE: &str = "query($c: ID) { posts(categoryId: $c, first: 20) { edges { node { id title viewerHasVoted \
     viewerHasSaved viewerIsWatching author { name } category { viewerIsWatching } } } } }";
const WATCH_CATEGORY: &str = "mutation($id: ID!, $w: Boolean!) { watchCategory(input: { categoryId: $id, watching: $w }) { category { viewerIsWatching } } }";

fn node<'a>(page: &'a Value, id: &str) -> &'a Value {
    page["data"]["posts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["id"] == id)
        .unwrap_or_else(|| panic!("post {id} not on the page: {page:#}"))
}

/// (category, posts by `author`).
async fn seed(app: &TestApp, author: &Session) -> (String, Vec<String>) {
    let category = category(app, "career").await;
    let mut posts = Vec::new();
    for n in 0..3 {
        posts.push(post(app, author, &category, &format!("post {n}"), "body").await);
    }
    (category, posts)
}

async fn a_warm_signed_in_page_shows_saves_and_watches_and_follows_the_viewers_own(app: TestApp) {
    let author = app
        .sign_up("author", "author@example.com", "password-1")
        .await;
    let viewer = app
        .sign_up("철수kim", "viewer@example.com", "password-1")
        .await;
    let (category, posts) = seed(&app, &author).await;
    let vars = json!({ "c": category });

    let page = warm(&app, PAGE, &vars, &viewer.access).await;
    assert_eq!(node(&page, &posts[0])["viewerHasSaved"], false);
    assert_eq!(node(&page, &posts[0])["viewerIsWatching"], false);
    assert_eq!(
        node(&page, &posts[0])["category"]["viewerIsWatching"],
        false
    );
    // The author watches what they wrote.
    let authors = warm(&app, PAGE, &vars, &author.access).await;
    assert_eq!(node(&authors, &posts[0])["viewerIsWatching"], true);
    assert_eq!(node(&authors, &posts[0])["viewerHasSaved"], false);

    // The viewer saves: their very next read shows it (no kept answer), and is warm again after one fill.
    save(&app, &viewer, &posts[1]).await;
    let (after, _, kept) = read(&app, PAGE, &vars, &viewer.access).await;
    assert!(
        !kept,
        "a kept answer was served after the viewer's own save"
    );
    assert_eq!(node(&after, &posts[1])["viewerHasSaved"], true);
    assert_eq!(node(&after, &posts[0])["viewerHasSaved"], false);
    warm(&app, PAGE, &vars, &viewer.access).await;

    // The same for a watch of a post and of the category.
    app.ok(
        WATCH,
        json!({ "id": posts[2], "w": true }),
        Some(&viewer.access),
    )
    .await;
    let (after, _, _) = read(&app, PAGE, &vars, &viewer.access).await;
    assert_eq!(node(&after, &posts[2])["viewerIsWatching"], true);
    app.ok(
        WATCH_CATEGORY,
        json!({ "id": category, "w": true }),
        Some(&viewer.access),
    )
    .await;
    let (after, _, _) = read(&app, PAGE, &vars, &viewer.access).await;
    assert_eq!(
        node(&after, &posts[0])["category"]["viewerIsWatching"],
        true
    );
    let warm_again = warm(&app, PAGE, &vars, &viewer.access).await;
    assert_eq!(node(&warm_again, &posts[1])["viewerHasSaved"], true);

    // Unsaving is seen at once too; another viewer's page is their own.
    app.ok(UNSAVE, json!({ "id": posts[1] }), Some(&viewer.access))
        .await;
    let (after, _, _) = read(&app, PAGE, &vars, &viewer.access).await;
    assert_eq!(node(&after, &posts[1])["viewerHasSaved"], false);
    let (authors, _, _) = read(&app, PAGE, &vars, &author.access).await;
    assert_eq!(
        node(&authors, &posts[0])["category"]["viewerIsWatching"],
        false
    );

    // The anonymous see false everywhere.
    let anonymous = app.ok(PAGE, vars.clone(), None).await;
    for edge in anonymous["posts"]["edges"].as_array().unwrap() {
        assert_eq!(edge["node"]["viewerHasSaved"], false);
        assert_eq!(edge["node"]["viewerIsWatching"], false);
        assert_eq!(edge["node"]["category"]["viewerIsWatching"], false);
    }
}

/// Two servers on one MariaDB and one Redis: a save or a watch through one is seen by the viewer's next read
/// through the other, however warm it was there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn a_viewers_save_and_watch_are_seen_by_their_next_read_on_another_server() {
    crate::helpers::require_external();
    let one = TestApp::spawn(Backend::MariaDb).await;
    let other = one.spawn_beside().await;
    let author = one
        .sign_up("author", "author@example.com", "password-1")
        .await;
    let name = format!("saver_{}", &unique("")[..6]);
    let viewer = one
        .sign_up(&name, &format!("{name}@example.com"), "password-1")
        .await;
    let (category, posts) = seed(&one, &author).await;
    let vars = json!({ "c": category });

    let before = warm(&other, PAGE, &vars, &viewer.access).await;
    assert_eq!(node(&before, &posts[0])["viewerHasSaved"], false);
    assert_eq!(node(&before, &posts[0])["viewerIsWatching"], false);

    save(&one, &viewer, &posts[0]).await;
    let (after, _, kept) = read(&other, PAGE, &vars, &viewer.access).await;
    assert!(!kept);
    assert_eq!(node(&after, &posts[0])["viewerHasSaved"], true);
    warm(&other, PAGE, &vars, &viewer.access).await;

    one.ok(
        WATCH,
        json!({ "id": posts[0], "w": true }),
        Some(&viewer.access),
    )
    .await;
    one.ok(
        WATCH_CATEGORY,
        json!({ "id": category, "w": true }),
        Some(&viewer.access),
    )
    .await;
    let (after, _, kept) = read(&other, PAGE, &vars, &viewer.access).await;
    assert!(!kept);
    assert_eq!(node(&after, &posts[0])["viewerIsWatching"], true);
    assert_eq!(
        node(&after, &posts[0])["category"]["viewerIsWatching"],
        true
    );
    warm(&other, PAGE, &vars, &viewer.access).await;

    one.ok(UNSAVE, json!({ "id": posts[0] }), Some(&viewer.access))
        .await;
    let (after, _, _) = read(&other, PAGE, &vars, &viewer.access).await;
    assert_eq!(node(&after, &posts[0])["viewerHasSaved"], false);
}
