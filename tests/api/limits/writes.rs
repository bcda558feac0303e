//! Limits on what one member can write: new posts and comments per user, edits per user, and the size of
//! an answer.

use futures::future::join_all;
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::helpers::{TestApp, code, has_errors, outcome};

const CREATE_POST: &str =
    "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }";
const CREATE_COMMENT: &str =
    "mutation($i: CreateCommentInput!) { createComment(input: $i) { comment { id } } }";

configured_tests!(
    posts_and_comments_share_a_per_user_limit => |c: &mut board::config::RawConfig| {
        c.creates_per_user = 4;
    },
    responses_edits_and_revisions_are_bounded => |c: &mut board::config::RawConfig| {
        c.edits_per_user = 3;
        c.max_response_bytes = 300_000;
    },
);

/// Ten parallel `createPost`s by one member under a limit of 4 (released together by a barrier): exactly
/// four pass, whatever the interleaving, and comments count against the same budget. Another member is not
/// affected.
async fn posts_and_comments_share_a_per_user_limit(app: TestApp) {
    let spammer = app
        .sign_up("spammer", "spammer@example.com", "password-1")
        .await;
    let other = app
        .sign_up("other", "other@example.com", "password-1")
        .await;
    let category = app.first_category().await;
    let barrier = Barrier::new(10);
    let answers = join_all((0..10).map(|n| {
        let (app, barrier, token, category) = (&app, &barrier, &spammer.access, &category);
        async move {
            barrier.wait().await;
            app.gql(
                CREATE_POST,
                json!({ "i": { "categoryId": category, "title": format!("spam {n}"), "content": "buy" } }),
                Some(token),
            )
            .await
        }
    }))
    .await;
    let mut outcomes: Vec<String> = answers.iter().map(outcome).collect();
    outcomes.sort();
    eprintln!("10 parallel createPost under a limit of 4: {outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| *o == "ok").count(), 4);
    assert_eq!(
        outcomes.iter().filter(|o| *o == "RATE_LIMITED").count(),
        6,
        "{outcomes:?}"
    );
    let limited = answers
        .iter()
        .find(|a| outcome(a) == "RATE_LIMITED")
        .unwrap();
    assert!(
        limited["errors"][0]["extensions"]["retryAfterSeconds"].as_u64() > Some(0),
        "{limited:#}"
    );

    let post = app
        .create_post(&other.access, &category, "legit", "hello")
        .await;
    let comment = app
        .gql(
            CREATE_COMMENT,
            json!({ "i": { "postId": post, "content": "more spam" } }),
            Some(&spammer.access),
        )
        .await;
    assert_eq!(outcome(&comment), "RATE_LIMITED", "{comment:#}");
    let reply = app
        .gql(
            CREATE_COMMENT,
            json!({ "i": { "postId": post, "content": "a real reply" } }),
            Some(&other.access),
        )
        .await;
    assert_eq!(outcome(&reply), "ok", "{reply:#}");

    // The refused posts were not written.
    let count = app
        .ok(
            "query($c: ID!) { posts(categoryId: $c, first: 50) { edges { node { title } } } }",
            json!({ "c": category }),
            None,
        )
        .await;
    let spam = count["posts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["title"].as_str().unwrap().starts_with("spam"))
        .count();
    assert_eq!(spam, 4);
}

/// Row 4: a 40 000-character post edited many times, asked for through `nodes(ids:)` many times over.
async fn responses_edits_and_revisions_are_bounded(app: TestApp) {
    let author = app
        .sign_up("prolific", "prolific@example.com", "password-1")
        .await;
    let category = app.first_category().await;
    let big = "x".repeat(40_000);
    let id = app
        .create_post(&author.access, &category, "big", &big)
        .await;
    let update = "mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { version } } }";
    let mut outcomes = Vec::new();
    for n in 0..5 {
        let answer = app
            .gql(
                update,
                json!({ "i": { "postId": id, "title": format!("big {n}"), "content": big } }),
                Some(&author.access),
            )
            .await;
        outcomes.push(if has_errors(&answer) {
            code(&answer).to_owned()
        } else {
            "ok".to_owned()
        });
    }
    eprintln!("5 edits with a limit of 3: {outcomes:?}");
    assert_eq!(outcomes, ["ok", "ok", "ok", "RATE_LIMITED", "RATE_LIMITED"]);

    let revisions = "query($ids: [ID!]!, $last: Int) { nodes(ids: $ids) { ... on Post { revisions(last: $last) { version } } } }";
    let repeated = app
        .gql(
            revisions,
            json!({ "ids": vec![id.clone(); 100], "last": 1 }),
            None,
        )
        .await;
    assert_eq!(code(&repeated), "BAD_USER_INPUT", "{repeated:#}");
    let too_many = app
        .gql(revisions, json!({ "ids": [id], "last": 51 }), None)
        .await;
    assert_eq!(code(&too_many), "BAD_USER_INPUT", "{too_many:#}");
    let two = app
        .ok(revisions, json!({ "ids": [id], "last": 2 }), None)
        .await;
    let versions: Vec<i64> = two["nodes"][0]["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [2, 3], "the newest two, oldest first");

    // Ten distinct 40 KB posts with their revisions: far past the 300 KB response cap.
    let mut ids = vec![id];
    for n in 0..9 {
        ids.push(
            app.create_post(&author.access, &category, &format!("big{n}"), &big)
                .await,
        );
    }
    let huge = app
        .post(
            &json!({ "query": "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Post { content revisions { content } } } }", "variables": { "ids": ids } }),
            None,
        )
        .await;
    assert_eq!(huge.status(), 200);
    let bytes = huge.bytes().await.unwrap();
    eprintln!(
        "10 × 40 KB posts with revisions under a 300 KB cap: {} response bytes",
        bytes.len()
    );
    assert!(bytes.len() < 2_000);
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body:#}");
    // Stopped while the answer was being resolved, at the field that went over (not after the whole answer
    // was built): the error has that field's path, and it is the only one.
    assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{body:#}");
    assert_eq!(body["errors"][0]["path"][0], "nodes", "{body:#}");
    assert!(
        body["data"]["nodes"].is_null(),
        "no post's text is answered: {body:#}"
    );
}
