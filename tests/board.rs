//! The board end to end over HTTP: categories, posts with versions, comments, votes, lists, round trips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Session, TestApp, code, field};
use futures::future::join_all;
use serde_json::{Value, json};

backend_tests!(
    categories_form_a_tree_that_admins_manage,
    posts_keep_every_version_and_delete_softly,
    twenty_concurrent_edits_end_as_versions_0_to_20,
    comments_have_versions_pages_and_counts,
    votes_are_idempotent_and_exact_under_concurrency,
    lists_order_page_filter_and_search,
    page_queries_cost_the_same_round_trips_for_5_and_50_posts,
    warm_post_reads_skip_the_database,
    text_rules_name_their_field,
    posts_export_as_csv,
);

/// The page query with caching switched off: every read is a database read (the cold case).
mod cold_page_query {
    use super::*;
    use common::Backend;

    async fn run(backend: Backend) {
        let app = TestApp::spawn_with(backend, |c| c.cache_ttl_secs = 0).await;
        let users = seed_posts(&app, 55).await;
        for token in [None, Some(users[0].access.as_str())] {
            let (_, db5, cache5) = app.gql_counted(PAGE, json!({ "n": 5 }), token).await;
            let (body, db50, cache50) = app.gql_counted(PAGE, json!({ "n": 50 }), token).await;
            assert!(body.get("errors").is_none(), "{body:#}");
            assert_eq!(
                (db5, cache5),
                (db50, cache50),
                "cold round trips do not grow with the page"
            );
            assert!(db50 <= 10, "{db50} round trips");
            eprintln!(
                "cold page query ({backend:?}, {}): first 5 → {db5} db, first 50 → {db50} db",
                if token.is_some() {
                    "signed in"
                } else {
                    "anonymous"
                }
            );
        }
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

const CREATE_POST: &str = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id title content version } } }";
const UPDATE_POST: &str =
    "mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { id title version } } }";
const CREATE_COMMENT: &str =
    "mutation($i: CreateCommentInput!) { createComment(input: $i) { comment { id content } } }";
const VOTE: &str =
    "mutation($id: ID!) { votePost(input: { postId: $id }) { post { voteCount viewerHasVoted } } }";
const UNVOTE: &str = "mutation($id: ID!) { unvotePost(input: { postId: $id }) { post { voteCount viewerHasVoted } } }";

async fn category(app: &TestApp, name: &str) -> String {
    let data = app
        .ok(
            "{ categories { id name children { id name children { id name } } } }",
            json!({}),
            None,
        )
        .await;
    fn find(list: &Value, name: &str) -> Option<String> {
        list.as_array()?.iter().find_map(|c| {
            if c["name"] == name {
                c["id"].as_str().map(str::to_owned)
            } else {
                find(&c["children"], name)
            }
        })
    }
    find(&data["categories"], name).unwrap_or_else(|| panic!("no category {name}"))
}

async fn post(app: &TestApp, who: &Session, category: &str, title: &str, content: &str) -> String {
    app.create_post(&who.access, category, title, content).await
}

async fn comment(app: &TestApp, who: &Session, post: &str, content: &str) -> String {
    let data = app
        .ok(
            CREATE_COMMENT,
            json!({ "i": { "postId": post, "content": content } }),
            Some(&who.access),
        )
        .await;
    data["createComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn categories_form_a_tree_that_admins_manage(app: TestApp) {
    let roots = app
        .ok(
            "{ categories { name tier parent { id } children { name tier parent { name } } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        roots["categories"],
        json!([
            { "name": "qna", "tier": 1, "parent": null, "children": [
                { "name": "tech", "tier": 2, "parent": { "name": "qna" } },
                { "name": "career", "tier": 2, "parent": { "name": "qna" } } ] },
            { "name": "community", "tier": 1, "parent": null, "children": [
                { "name": "life", "tier": 2, "parent": { "name": "community" } },
                { "name": "news", "tier": 2, "parent": { "name": "community" } } ] },
        ])
    );
    let admin = app.admin().await;
    let member = app
        .sign_up("member", "member@example.com", "password-1")
        .await;
    let create = "mutation($i: CreateCategoryInput!) { createCategory(input: $i) { category { id name tier parent { name } } } }";
    let tech = category(&app, "tech").await;

    let forbidden = app
        .gql(
            create,
            json!({ "i": { "name": "x" } }),
            Some(&member.access),
        )
        .await;
    assert_eq!(code(&forbidden), "FORBIDDEN");

    let rust = app
        .ok(
            create,
            json!({ "i": { "name": "러스트 🦀", "parentId": tech } }),
            Some(&admin.access),
        )
        .await;
    let rust = &rust["createCategory"]["category"];
    assert_eq!(rust["tier"], 3, "tier follows the parent");
    assert_eq!(rust["name"], "러스트 🦀");
    let rust_id = rust["id"].as_str().unwrap().to_owned();
    let dup = app
        .gql(
            create,
            json!({ "i": { "name": "러스트 🦀", "parentId": tech } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(code(&dup), "CONFLICT");
    let other_emoji = app
        .gql(
            create,
            json!({ "i": { "name": "러스트 🐍", "parentId": tech } }),
            Some(&admin.access),
        )
        .await;
    assert!(
        other_emoji.get("errors").is_none(),
        "distinct emoji are distinct names: {other_emoji:#}"
    );
    let root_dup = app
        .gql(
            create,
            json!({ "i": { "name": "qna" } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(code(&root_dup), "CONFLICT");

    // Moving a subtree re-derives tiers; moving below itself is refused.
    let update = "mutation($i: UpdateCategoryInput!) { updateCategory(input: $i) { category { name tier parent { name } } } }";
    let career = category(&app, "career").await;
    let moved = app
        .ok(
            update,
            json!({ "i": { "categoryId": tech, "parentId": null } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(moved["updateCategory"]["category"]["tier"], 1);
    let child = app
        .ok(
            "query($id: ID!) { category(id: $id) { tier } }",
            json!({ "id": rust_id }),
            None,
        )
        .await;
    assert_eq!(child["category"]["tier"], 2, "descendants follow a move");
    let cycle = app
        .gql(
            update,
            json!({ "i": { "categoryId": tech, "parentId": rust_id } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(code(&cycle), "BAD_USER_INPUT");
    assert_eq!(field(&cycle), "parentId");
    let renamed = app
        .ok(
            update,
            json!({ "i": { "categoryId": career, "name": "jobs" } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(renamed["updateCategory"]["category"]["name"], "jobs");
    assert_eq!(
        renamed["updateCategory"]["category"]["parent"]["name"], "qna",
        "an absent parentId keeps the parent"
    );

    // Deleting is refused while children or posts remain.
    let delete = "mutation($id: ID!) { deleteCategory(input: { categoryId: $id }) { deletedId } }";
    let has_children = app
        .gql(delete, json!({ "id": tech }), Some(&admin.access))
        .await;
    assert_eq!(code(&has_children), "CONFLICT");
    post(&app, &member, &career, "hello", "world").await;
    let has_posts = app
        .gql(delete, json!({ "id": career }), Some(&admin.access))
        .await;
    assert_eq!(code(&has_posts), "CONFLICT");
    let gone = app
        .ok(delete, json!({ "id": rust_id }), Some(&admin.access))
        .await;
    assert_eq!(gone["deleteCategory"]["deletedId"], rust_id.as_str());
    let missing = app
        .ok(
            "query($id: ID!) { category(id: $id) { id } }",
            json!({ "id": rust_id }),
            None,
        )
        .await;
    assert!(missing["category"].is_null());
}

async fn posts_keep_every_version_and_delete_softly(app: TestApp) {
    let author = app
        .sign_up("writer", "writer@example.com", "password-1")
        .await;
    let other = app
        .sign_up("reader", "reader@example.com", "password-1")
        .await;
    let admin = app.admin().await;
    let tech = category(&app, "tech").await;
    let id = post(&app, &author, &tech, "  First title  ", "첫 번째 글 🦀").await;

    let anonymous = app
        .gql(
            CREATE_POST,
            json!({ "i": { "categoryId": tech, "title": "t", "content": "c" } }),
            None,
        )
        .await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");

    let updated = app
        .ok(
            UPDATE_POST,
            json!({ "i": { "postId": id, "title": "Second", "content": "두 번째" } }),
            Some(&author.access),
        )
        .await;
    assert_eq!(updated["updatePost"]["post"]["version"], 1);
    let not_author = app
        .gql(
            UPDATE_POST,
            json!({ "i": { "postId": id, "title": "x", "content": "y" } }),
            Some(&other.access),
        )
        .await;
    assert_eq!(code(&not_author), "FORBIDDEN");

    let q = "query($id: ID!) { post(id: $id) { title content version isActive createdAt updatedAt author { name } category { name } \
             revisions { version title content } viewerCanEdit viewerCanDelete } }";
    let read = app.ok(q, json!({ "id": id }), Some(&author.access)).await;
    let p = &read["post"];
    assert_eq!(p["title"], "Second");
    assert_eq!(p["content"], "두 번째");
    assert_eq!(p["author"]["name"], "writer");
    assert_eq!(p["category"]["name"], "tech");
    assert_eq!(
        p["revisions"],
        json!([
            { "version": 0, "title": "First title", "content": "첫 번째 글 🦀" },
            { "version": 1, "title": "Second", "content": "두 번째" },
        ])
    );
    assert_eq!(
        (p["viewerCanEdit"].as_bool(), p["viewerCanDelete"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(p["updatedAt"].as_str().unwrap() >= p["createdAt"].as_str().unwrap());
    let as_other = app.ok(q, json!({ "id": id }), Some(&other.access)).await;
    assert_eq!(
        (
            as_other["post"]["viewerCanEdit"].as_bool(),
            as_other["post"]["viewerCanDelete"].as_bool()
        ),
        (Some(false), Some(false))
    );

    let delete = "mutation($id: ID!) { deletePost(input: { postId: $id }) { deletedId } }";
    assert_eq!(
        code(
            &app.gql(delete, json!({ "id": id }), Some(&other.access))
                .await
        ),
        "FORBIDDEN"
    );
    let deleted = app
        .ok(delete, json!({ "id": id }), Some(&admin.access))
        .await;
    assert_eq!(deleted["deletePost"]["deletedId"], id.as_str());

    // Hidden from everyone but admins, and from lists.
    assert!(app.ok(q, json!({ "id": id }), Some(&author.access)).await["post"].is_null());
    assert!(app.ok(q, json!({ "id": id }), None).await["post"].is_null());
    let node = app
        .ok(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": id }),
            None,
        )
        .await;
    assert!(node["node"].is_null());
    let seen = app.ok(q, json!({ "id": id }), Some(&admin.access)).await;
    assert_eq!(seen["post"]["isActive"], false);
    let list = app
        .ok(
            "{ posts { totalCount nodes { id } } }",
            json!({}),
            Some(&admin.access),
        )
        .await;
    assert_eq!(list["posts"]["totalCount"], 0);
    let again = app
        .gql(
            UPDATE_POST,
            json!({ "i": { "postId": id, "title": "x", "content": "y" } }),
            Some(&author.access),
        )
        .await;
    assert_eq!(code(&again), "NOT_FOUND");
    let comment_on_deleted = app
        .gql(
            CREATE_COMMENT,
            json!({ "i": { "postId": id, "content": "late" } }),
            Some(&other.access),
        )
        .await;
    assert_eq!(code(&comment_on_deleted), "NOT_FOUND");
    let vote_deleted = app
        .gql(VOTE, json!({ "id": id }), Some(&other.access))
        .await;
    assert_eq!(code(&vote_deleted), "NOT_FOUND");
}

async fn twenty_concurrent_edits_end_as_versions_0_to_20(app: TestApp) {
    let author = app
        .sign_up("editor", "editor@example.com", "password-1")
        .await;
    let tech = category(&app, "tech").await;
    let id = post(&app, &author, &tech, "v0", "v0").await;
    let edits = (1..=20).map(|n| {
        let (app, author, id) = (&app, &author, &id);
        async move {
            app.ok(
                UPDATE_POST,
                json!({ "i": { "postId": id, "title": format!("edit {n}"), "content": format!("edit {n}") } }),
                Some(&author.access),
            )
            .await
        }
    });
    join_all(edits).await;
    let read = app
        .ok(
            "query($id: ID!) { post(id: $id) { version revisions { version } } }",
            json!({ "id": id }),
            None,
        )
        .await;
    assert_eq!(read["post"]["version"], 20);
    let versions: Vec<i64> = read["post"]["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, (0..=20).collect::<Vec<_>>());
}

async fn comments_have_versions_pages_and_counts(app: TestApp) {
    let author = app.sign_up("op", "op@example.com", "password-1").await;
    let commenter = app
        .sign_up("chatty", "chatty@example.com", "password-1")
        .await;
    let life = category(&app, "life").await;
    let post_id = post(&app, &author, &life, "thread", "discuss").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(comment(&app, &commenter, &post_id, &format!("댓글 {n} 😀")).await);
    }
    let update = "mutation($i: UpdateCommentInput!) { updateComment(input: $i) { comment { version content revisions { version content } } } }";
    let edited = app
        .ok(
            update,
            json!({ "i": { "commentId": ids[0], "content": "고침" } }),
            Some(&commenter.access),
        )
        .await;
    assert_eq!(edited["updateComment"]["comment"]["version"], 1);
    assert_eq!(
        edited["updateComment"]["comment"]["revisions"][0]["content"],
        "댓글 0 😀"
    );
    let not_author = app
        .gql(
            update,
            json!({ "i": { "commentId": ids[0], "content": "x" } }),
            Some(&author.access),
        )
        .await;
    assert_eq!(code(&not_author), "FORBIDDEN");

    let delete = "mutation($id: ID!) { deleteComment(input: { commentId: $id }) { deletedId } }";
    app.ok(delete, json!({ "id": ids[1] }), Some(&commenter.access))
        .await;

    let q = "query($id: ID!, $a: String) { post(id: $id) { commentCount comments(first: 2, after: $a) { totalCount \
             edges { cursor node { id content author { name } post { id } } } pageInfo { hasNextPage endCursor } } } }";
    let first = app.ok(q, json!({ "id": post_id }), None).await;
    let post = &first["post"];
    assert_eq!(post["commentCount"], 4);
    assert_eq!(post["comments"]["totalCount"], 4);
    let page: Vec<&str> = post["comments"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        page,
        [ids[0].as_str(), ids[2].as_str()],
        "oldest first, deleted skipped"
    );
    assert_eq!(post["comments"]["edges"][0]["node"]["content"], "고침");
    assert_eq!(
        post["comments"]["edges"][0]["node"]["post"]["id"],
        post_id.as_str()
    );
    let next = app
        .ok(
            q,
            json!({ "id": post_id, "a": post["comments"]["pageInfo"]["endCursor"] }),
            None,
        )
        .await;
    let page: Vec<&str> = next["post"]["comments"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(page, [ids[3].as_str(), ids[4].as_str()]);
    assert_eq!(next["post"]["comments"]["pageInfo"]["hasNextPage"], false);

    let last = app
        .ok("query($id: ID!) { post(id: $id) { comments(last: 1) { nodes { id } pageInfo { hasPreviousPage } } } }", json!({ "id": post_id }), None)
        .await;
    assert_eq!(last["post"]["comments"]["nodes"][0]["id"], ids[4].as_str());
    assert_eq!(
        last["post"]["comments"]["pageInfo"]["hasPreviousPage"],
        true
    );

    let by_user = app
        .ok(
            "{ user(name: \"chatty\") { comments(first: 10) { totalCount nodes { id } } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(by_user["user"]["comments"]["totalCount"], 4);
    assert_eq!(
        by_user["user"]["comments"]["nodes"][0]["id"],
        ids[4].as_str(),
        "newest first"
    );

    let deleted = app
        .ok(
            "query($id: ID!) { comment(id: $id) { id } }",
            json!({ "id": ids[1] }),
            None,
        )
        .await;
    assert!(deleted["comment"].is_null());
    let vote = "mutation($id: ID!) { voteComment(input: { commentId: $id }) { comment { voteCount viewerHasVoted } } }";
    let voted = app
        .ok(vote, json!({ "id": ids[2] }), Some(&author.access))
        .await;
    assert_eq!(
        voted["voteComment"]["comment"],
        json!({ "voteCount": 1, "viewerHasVoted": true })
    );
    let again = app
        .ok(vote, json!({ "id": ids[2] }), Some(&author.access))
        .await;
    assert_eq!(again["voteComment"]["comment"]["voteCount"], 1);
    let unvote = "mutation($id: ID!) { unvoteComment(input: { commentId: $id }) { comment { voteCount viewerHasVoted } } }";
    let unvoted = app
        .ok(unvote, json!({ "id": ids[2] }), Some(&author.access))
        .await;
    assert_eq!(
        unvoted["unvoteComment"]["comment"],
        json!({ "voteCount": 0, "viewerHasVoted": false })
    );
}

async fn votes_are_idempotent_and_exact_under_concurrency(app: TestApp) {
    let author = app
        .sign_up("popular", "popular@example.com", "password-1")
        .await;
    let news = category(&app, "news").await;
    let id = post(&app, &author, &news, "vote for me", "please").await;
    let voted = app
        .ok(VOTE, json!({ "id": id }), Some(&author.access))
        .await;
    assert_eq!(
        voted["votePost"]["post"],
        json!({ "voteCount": 1, "viewerHasVoted": true })
    );
    let twice = app
        .ok(VOTE, json!({ "id": id }), Some(&author.access))
        .await;
    assert_eq!(twice["votePost"]["post"]["voteCount"], 1, "idempotent");
    let unvoted = app
        .ok(UNVOTE, json!({ "id": id }), Some(&author.access))
        .await;
    assert_eq!(
        unvoted["unvotePost"]["post"],
        json!({ "voteCount": 0, "viewerHasVoted": false })
    );
    let again = app
        .ok(UNVOTE, json!({ "id": id }), Some(&author.access))
        .await;
    assert_eq!(again["unvotePost"]["post"]["voteCount"], 0);
    assert_eq!(
        code(&app.gql(VOTE, json!({ "id": id }), None).await),
        "UNAUTHENTICATED"
    );

    let mut voters = Vec::new();
    for n in 0..50 {
        voters.push(
            app.sign_up(
                &format!("voter{n}"),
                &format!("voter{n}@example.com"),
                "password-1",
            )
            .await,
        );
    }
    // Everyone votes twice at once: 100 concurrent requests, 50 votes.
    let votes = voters.iter().chain(voters.iter()).map(|v| {
        let (app, id) = (&app, &id);
        async move { app.ok(VOTE, json!({ "id": id }), Some(&v.access)).await }
    });
    join_all(votes).await;
    let read = app
        .ok(
            "query($id: ID!) { post(id: $id) { voteCount } }",
            json!({ "id": id }),
            None,
        )
        .await;
    assert_eq!(read["post"]["voteCount"], 50);
    let unvotes = voters.iter().take(20).map(|v| {
        let (app, id) = (&app, &id);
        async move { app.ok(UNVOTE, json!({ "id": id }), Some(&v.access)).await }
    });
    join_all(unvotes).await;
    let read = app
        .ok(
            "query($id: ID!) { post(id: $id) { voteCount viewerHasVoted } }",
            json!({ "id": id }),
            Some(&voters[30].access),
        )
        .await;
    assert_eq!(
        read["post"],
        json!({ "voteCount": 30, "viewerHasVoted": true })
    );
}

async fn lists_order_page_filter_and_search(app: TestApp) {
    let alice = app
        .sign_up("alice", "alice@example.com", "password-1")
        .await;
    let bob = app.sign_up("bob", "bob@example.com", "password-1").await;
    let (tech, career, life, qna) = (
        category(&app, "tech").await,
        category(&app, "career").await,
        category(&app, "life").await,
        category(&app, "qna").await,
    );
    let p1 = post(&app, &alice, &tech, "Rust tips", "borrowing 101").await;
    let p2 = post(&app, &bob, &career, "50% off_sale", "literal wildcards").await;
    let p3 = post(&app, &alice, &life, "일상", "오늘의 RUST 이야기 🦀").await;
    let p4 = post(&app, &bob, &tech, "500 offers", "no percent here").await;
    for voter in [&alice, &bob] {
        app.ok(VOTE, json!({ "id": p3 }), Some(&voter.access)).await;
    }
    app.ok(VOTE, json!({ "id": p1 }), Some(&bob.access)).await;

    let list = |args: &str| {
        format!(
            "{{ posts({args}) {{ totalCount nodes {{ id }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}"
        )
    };
    let ids = |data: &Value| -> Vec<String> {
        data["posts"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let newest = app.ok(&list("first: 20"), json!({}), None).await;
    assert_eq!(
        ids(&newest),
        [p4.as_str(), p3.as_str(), p2.as_str(), p1.as_str()]
    );
    assert_eq!(newest["posts"]["totalCount"], 4);
    let oldest = app.ok(&list("orderBy: OLDEST"), json!({}), None).await;
    assert_eq!(
        ids(&oldest),
        [p1.as_str(), p2.as_str(), p3.as_str(), p4.as_str()]
    );
    let voted = app.ok(&list("orderBy: MOST_VOTED"), json!({}), None).await;
    assert_eq!(
        ids(&voted),
        [p3.as_str(), p1.as_str(), p4.as_str(), p2.as_str()],
        "votes, then newest"
    );

    // Forward and backward pages with cursors, for every order.
    for order in ["NEWEST", "OLDEST", "MOST_VOTED"] {
        let all = ids(&app
            .ok(&list(&format!("orderBy: {order}")), json!({}), None)
            .await);
        let first = app
            .ok(
                &list(&format!("orderBy: {order}, first: 2")),
                json!({}),
                None,
            )
            .await;
        assert_eq!(ids(&first), all[..2]);
        assert_eq!(first["posts"]["pageInfo"]["hasNextPage"], true);
        let cursor = first["posts"]["pageInfo"]["endCursor"].as_str().unwrap();
        let second = app
            .ok(
                &list(&format!("orderBy: {order}, first: 2, after: \"{cursor}\"")),
                json!({}),
                None,
            )
            .await;
        assert_eq!(ids(&second), all[2..], "{order}");
        assert_eq!(second["posts"]["pageInfo"]["hasNextPage"], false);
        assert_eq!(second["posts"]["pageInfo"]["hasPreviousPage"], true);
        let back_cursor = second["posts"]["pageInfo"]["startCursor"].as_str().unwrap();
        let back = app
            .ok(
                &list(&format!(
                    "orderBy: {order}, last: 2, before: \"{back_cursor}\""
                )),
                json!({}),
                None,
            )
            .await;
        assert_eq!(ids(&back), all[..2], "{order} backwards");
        assert_eq!(back["posts"]["pageInfo"]["hasPreviousPage"], false);
        let tail = app
            .ok(
                &list(&format!("orderBy: {order}, last: 1")),
                json!({}),
                None,
            )
            .await;
        assert_eq!(ids(&tail), all[3..]);
    }

    // A category includes its descendants.
    let in_qna = app
        .ok(&list(&format!("categoryId: \"{qna}\"")), json!({}), None)
        .await;
    assert_eq!(ids(&in_qna), [p4.as_str(), p2.as_str(), p1.as_str()]);
    assert_eq!(in_qna["posts"]["totalCount"], 3);
    let via_category = app
        .ok("query($id: ID!) { category(id: $id) { posts(orderBy: OLDEST) { totalCount nodes { id } } } }", json!({ "id": tech }), None)
        .await;
    assert_eq!(via_category["category"]["posts"]["totalCount"], 2);
    let by_author = app
        .ok(
            &list(&format!("authorId: \"{}\"", alice.user_id)),
            json!({}),
            None,
        )
        .await;
    assert_eq!(ids(&by_author), [p3.as_str(), p1.as_str()]);
    let user_posts = app
        .ok(
            "{ user(name: \"bob\") { posts { totalCount nodes { title } } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(user_posts["user"]["posts"]["totalCount"], 2);

    // Search: current title or content, case-insensitive, wildcards literal.
    let search = |term: &str| list(&format!("search: {}", serde_json::to_string(term).unwrap()));
    assert_eq!(
        ids(&app.ok(&search("rust"), json!({}), None).await),
        [p3.as_str(), p1.as_str()]
    );
    assert_eq!(
        ids(&app.ok(&search("50%"), json!({}), None).await),
        [p2.as_str()]
    );
    assert_eq!(
        ids(&app.ok(&search("f_s"), json!({}), None).await),
        [p2.as_str()]
    );
    assert_eq!(
        ids(&app.ok(&search("_"), json!({}), None).await),
        [p2.as_str()]
    );
    assert!(ids(&app.ok(&search("%%"), json!({}), None).await).is_empty());
    assert_eq!(
        ids(&app.ok(&search("🦀"), json!({}), None).await),
        [p3.as_str()]
    );
    let bad = app.gql(&search(""), json!({}), None).await;
    assert_eq!(field(&bad), "search");
    let bad = app.gql(&search(&"x".repeat(101)), json!({}), None).await;
    assert_eq!(field(&bad), "search");
    // An edit changes what search sees: the old title no longer matches.
    app.ok(
        UPDATE_POST,
        json!({ "i": { "postId": p1, "title": "Go tips", "content": "goroutines" } }),
        Some(&alice.access),
    )
    .await;
    assert_eq!(
        ids(&app.ok(&search("rust"), json!({}), None).await),
        [p3.as_str()]
    );
    let bad_cursor = app.gql(&list("after: \"bm9wZQ==\""), json!({}), None).await;
    assert_eq!(field(&bad_cursor), "after");
}

/// Oldest first: the first page of the newest list is served whole from one cache entry (tests/search.rs),
/// while this page exercises the per-request batching of every read by id.
const PAGE: &str = "query($n: Int!) { posts(first: $n, orderBy: OLDEST) { totalCount edges { cursor node { id title voteCount commentCount viewerHasVoted \
     author { name } category { name } comments(first: 3) { nodes { content author { name } } } } } } }";

async fn seed_posts(app: &TestApp, n: usize) -> Vec<Session> {
    // Four users: the first five posts already have every author, so comment authors add no query for either page.
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(
            app.sign_up(
                &format!("user{i}"),
                &format!("user{i}@example.com"),
                "password-1",
            )
            .await,
        );
    }
    let categories = [
        category(app, "tech").await,
        category(app, "life").await,
        category(app, "news").await,
    ];
    for i in 0..n {
        let author = &users[i % users.len()];
        let id = post(
            app,
            author,
            &categories[i % 3],
            &format!("post {i}"),
            "content",
        )
        .await;
        for c in 0..(i % 4) {
            comment(
                app,
                &users[(i + c + 1) % users.len()],
                &id,
                &format!("comment {c}"),
            )
            .await;
        }
        if i % 2 == 0 {
            app.ok(
                VOTE,
                json!({ "id": id }),
                Some(&users[(i + 2) % users.len()].access),
            )
            .await;
        }
    }
    users
}

async fn page_queries_cost_the_same_round_trips_for_5_and_50_posts(app: TestApp) {
    let users = seed_posts(&app, 55).await;
    // The list's total is cached with the first page of the newest list: both pages below find it there.
    app.ok("{ posts(first: 1) { totalCount } }", json!({}), None)
        .await;
    for token in [None, Some(users[0].access.as_str())] {
        let (five, db5, _) = app.gql_counted(PAGE, json!({ "n": 5 }), token).await;
        let (fifty, db50, _) = app.gql_counted(PAGE, json!({ "n": 50 }), token).await;
        assert!(
            five.get("errors").is_none() && fifty.get("errors").is_none(),
            "{fifty:#}"
        );
        assert_eq!(
            fifty["data"]["posts"]["edges"].as_array().unwrap().len(),
            50
        );
        assert_eq!(
            db5, db50,
            "round trips do not grow with the page ({token:?})"
        );
        assert!(db50 <= 10, "{db50} round trips");
        let with_comments = fifty["data"]["posts"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                !e["node"]["comments"]["nodes"]
                    .as_array()
                    .unwrap()
                    .is_empty()
            });
        assert!(with_comments.count() > 10);
        let (_, warm5, cache5) = app.gql_counted(PAGE, json!({ "n": 5 }), token).await;
        let (_, warm50, cache50) = app.gql_counted(PAGE, json!({ "n": 50 }), token).await;
        assert_eq!(warm5, warm50, "warm round trips do not grow with the page");
        eprintln!(
            "page query ({}): first run 5 → {db5} db, 50 → {db50} db; warm 5 → {warm5} db + {cache5} cache, 50 → {warm50} db + {cache50} cache",
            if token.is_some() {
                "signed in"
            } else {
                "anonymous"
            }
        );
    }
}

async fn warm_post_reads_skip_the_database(app: TestApp) {
    let author = app
        .sign_up("cached", "cached@example.com", "password-1")
        .await;
    let tech = category(&app, "tech").await;
    let id = post(&app, &author, &tech, "warm me", "up").await;
    let q = "query($id: ID!) { post(id: $id) { title content author { name } category { name } voteCount } }";
    let (cold, cold_db, _) = app.gql_counted(q, json!({ "id": id }), None).await;
    assert_eq!(cold["data"]["post"]["author"]["name"], "cached");
    let (warm, db, cache) = app.gql_counted(q, json!({ "id": id }), None).await;
    assert_eq!(warm["data"], cold["data"]);
    assert_eq!(db, 0, "warm: no database round trip (cold took {cold_db})");
    assert!(cache <= 3, "{cache} cache round trips");
    // A write invalidates: the next read sees the new version.
    app.ok(
        UPDATE_POST,
        json!({ "i": { "postId": id, "title": "edited", "content": "up" } }),
        Some(&author.access),
    )
    .await;
    let (fresh, _, _) = app.gql_counted(q, json!({ "id": id }), None).await;
    assert_eq!(fresh["data"]["post"]["title"], "edited");
    eprintln!("post(id:) cold: {cold_db} db round trips; warm: 0");
}

async fn posts_export_as_csv(app: TestApp) {
    let author = app
        .sign_up("exporter", "exporter@example.com", "password-1")
        .await;
    let other = app.sign_up("콤마", "comma@example.com", "password-1").await;
    let tech = category(&app, "tech").await;
    let id = post(
        &app,
        &author,
        &tech,
        "제목, with \"quotes\"",
        "line one\nline two 🦀",
    )
    .await;
    comment(&app, &other, &id, "=HYPERLINK(\"http://evil\")").await;
    comment(&app, &author, &id, "plain 댓글").await;
    let url = |id: &str| format!("{}/posts/{}/export.csv", app.base, id.replace('/', "%2F"));
    let response = app.client().get(url(&id)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 byte-order mark");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "type,id,version,author,created_at,updated_at,votes,title,content"
    );
    assert!(
        lines[1].starts_with(&format!("post,{id},0,exporter,")),
        "{}",
        lines[1]
    );
    assert!(
        text.contains("\"제목, with \"\"quotes\"\"\",\"line one\nline two 🦀\""),
        "{text}"
    );
    assert!(text.contains(",콤마,"));
    assert!(
        text.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""),
        "formulas are defused: {text}"
    );
    assert!(text.contains(",plain 댓글\r\n"));
    assert!(text.ends_with("\r\n"));

    let missing = app
        .client()
        .get(url("UG9zdDo5OTk5OTk="))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let garbage = app.client().get(url("nope")).send().await.unwrap();
    assert_eq!(garbage.status(), 404);
    app.ok(
        "mutation($id: ID!) { deletePost(input: { postId: $id }) { deletedId } }",
        json!({ "id": id }),
        Some(&author.access),
    )
    .await;
    let deleted = app.client().get(url(&id)).send().await.unwrap();
    assert_eq!(deleted.status(), 404);
}

async fn text_rules_name_their_field(app: TestApp) {
    let author = app
        .sign_up("rules", "rules@example.com", "password-1")
        .await;
    let tech = category(&app, "tech").await;
    let cases = [
        (
            json!({ "categoryId": tech, "title": "   ", "content": "c" }),
            "title",
        ),
        (
            json!({ "categoryId": tech, "title": "t".repeat(201), "content": "c" }),
            "title",
        ),
        (
            json!({ "categoryId": tech, "title": "t", "content": "" }),
            "content",
        ),
        (
            json!({ "categoryId": tech, "title": "t", "content": "c".repeat(40_001) }),
            "content",
        ),
        (
            json!({ "categoryId": "VXNlcjox", "title": "t", "content": "c" }),
            "categoryId",
        ),
        (
            json!({ "categoryId": "Q2F0ZWdvcnk6OTk5", "title": "t", "content": "c" }),
            "categoryId",
        ),
    ];
    for (input, bad) in cases {
        let body = app
            .gql(CREATE_POST, json!({ "i": input }), Some(&author.access))
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
        assert_eq!(field(&body), bad);
    }
    let ok = app
        .ok(CREATE_POST, json!({ "i": { "categoryId": tech, "title": "가".repeat(200), "content": "나".repeat(40_000) } }), Some(&author.access))
        .await;
    let id = ok["createPost"]["post"]["id"].as_str().unwrap();
    let long = app
        .gql(
            CREATE_COMMENT,
            json!({ "i": { "postId": id, "content": "c".repeat(10_001) } }),
            Some(&author.access),
        )
        .await;
    assert_eq!(field(&long), "content");
    let max = app
        .gql(
            CREATE_COMMENT,
            json!({ "i": { "postId": id, "content": "😀".repeat(10_000) } }),
            Some(&author.access),
        )
        .await;
    assert!(max.get("errors").is_none());
}
