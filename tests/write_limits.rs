//! Limits on what one member can write and guess, through the public API: new posts and comments per user,
//! and password guesses for logins that name no account. Each runs on SQLite and, with `--include-ignored`
//! and TEST_* set, on MariaDB + Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestApp, code};
use futures::future::join_all;
use serde_json::{Value, json};
use tokio::sync::Barrier;

const CREATE_POST: &str =
    "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }";
const CREATE_COMMENT: &str =
    "mutation($i: CreateCommentInput!) { createComment(input: $i) { comment { id } } }";

fn outcome(answer: &Value) -> String {
    if answer.get("errors").is_some() {
        code(answer).to_owned()
    } else {
        "ok".to_owned()
    }
}

configured_tests!(
    posts_and_comments_share_a_per_user_limit => |c: &mut board::config::RawConfig| {
        c.creates_per_user = 4;
    },
    unknown_logins_are_limited_like_existing_accounts => |c: &mut board::config::RawConfig| {
        c.login_failures_per_account = 3;
    },
    refused_attempts_do_not_count => |c: &mut board::config::RawConfig| {
        c.login_failures_per_account = 3;
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

/// Wrong guesses for a login that names no account are counted like those for an account that exists, so
/// the answers after the limit do not tell the two apart (enumeration); other logins are not affected.
async fn unknown_logins_are_limited_like_existing_accounts(app: TestApp) {
    app.sign_up("existing", "existing@example.com", "password-1")
        .await;
    let mut seen = Vec::new();
    for login in ["existing", "nobody-here"] {
        let answers = join_all((0..5).map(|_| app.login(login, "wrong-guess"))).await;
        let mut outcomes: Vec<String> = answers.iter().map(outcome).collect();
        outcomes.sort();
        eprintln!("5 wrong guesses for {login} (limit 3): {outcomes:?}");
        seen.push(outcomes);
    }
    assert_eq!(
        seen[0], seen[1],
        "an unknown login answers like a known one"
    );
    assert_eq!(
        seen[0],
        [
            "RATE_LIMITED",
            "RATE_LIMITED",
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "UNAUTHENTICATED"
        ]
    );
    // Case-folded: the same name in capitals shares the count.
    let answer = app.login("NOBODY-HERE", "wrong-guess").await;
    assert_eq!(code(&answer), "RATE_LIMITED", "{answer:#}");
    let answer = app.login("someone-else", "wrong-guess").await;
    assert_eq!(code(&answer), "UNAUTHENTICATED", "{answer:#}");
}

/// 24 logins with the right password at once, for an account limited to 3 guesses: those over the limit
/// are refused while the others are being checked, but a refusal is not counted — once the burst is over
/// the owner logs in, and the retry hint is within the window.
async fn refused_attempts_do_not_count(app: TestApp) {
    app.sign_up("burst", "burst@example.com", "password-1")
        .await;
    let barrier = Barrier::new(24);
    let answers = join_all((0..24).map(|_| async {
        barrier.wait().await;
        app.login("burst", "password-1").await
    }))
    .await;
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|a| outcome(a) == "RATE_LIMITED")
        .collect();
    let ok = answers.iter().filter(|a| outcome(a) == "ok").count();
    eprintln!(
        "24 right passwords at once, limit 3: {ok} ok, {} refused",
        refused.len()
    );
    assert_eq!(ok + refused.len(), 24);
    for answer in &refused {
        let retry = answer["errors"][0]["extensions"]["retryAfterSeconds"]
            .as_u64()
            .unwrap();
        assert!((1..=900).contains(&retry), "{answer:#}");
    }
    let after = app.login("burst", "password-1").await;
    assert_eq!(outcome(&after), "ok", "the owner is locked out: {after:#}");
}
