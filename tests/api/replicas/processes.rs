//! Replicas are stateless: two `board serve` processes on one MariaDB and one Redis behave as one service.

use crate::helpers::process::{BoardProcess, serve};
use crate::helpers::{Backend, code};
use serde_json::{Value, json};

/// A replica whose per-account login limit is low enough to reach in a few guesses.
async fn replica(config: &board::config::RawConfig) -> BoardProcess {
    serve(config, &[("BOARD_LOGIN_FAILURES_PER_ACCOUNT", "3")]).await
}

async fn gql(base: &str, query: &str, variables: Value, token: Option<&str>) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn two_replicas_share_state_through_the_database_and_redis() {
    crate::helpers::require_external();
    let (config, _cleanup) = crate::helpers::test_config(Backend::MariaDb).await;
    let (a, b) = (replica(&config).await, replica(&config).await);

    // Sign up on A, log in on B, refresh on A with B's refresh token.
    let sign_up = "mutation { signUp(input: { name: \"twin\", email: \"twin@example.com\", password: \"password-1\" }) { accessToken } }";
    let signed = gql(&a.base, sign_up, json!({}), None).await;
    assert!(signed.get("errors").is_none(), "{signed:#}");
    let login = "mutation($p: String!) { login(input: { login: \"twin\", password: $p }) { accessToken refreshToken } }";
    let on_b = gql(&b.base, login, json!({ "p": "password-1" }), None).await;
    let refresh_token = on_b["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let access = on_b["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = "mutation($t: String!) { refreshToken(input: { refreshToken: $t }) { accessToken refreshToken } }";
    let rotated = gql(&a.base, refresh, json!({ "t": refresh_token }), None).await;
    assert!(rotated.get("errors").is_none(), "{rotated:#}");
    // Reuse of the rotated token on the other replica is detected there too.
    assert_eq!(
        code(&gql(&b.base, refresh, json!({ "t": refresh_token }), None).await),
        "UNAUTHENTICATED"
    );

    // A write through A is visible through B at once, even after B cached the old version.
    let categories = gql(&b.base, "{ categories { id } }", json!({}), None).await;
    let category = categories["data"]["categories"][0]["id"].clone();
    let created = gql(
        &a.base,
        "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
        json!({ "i": { "categoryId": category, "title": "v0", "content": "first" } }),
        Some(&access),
    )
    .await;
    let id = created["data"]["createPost"]["post"]["id"].clone();
    let read = "query($id: ID!) { post(id: $id) { title voteCount } }";
    assert_eq!(
        gql(&b.base, read, json!({ "id": id }), None).await["data"]["post"]["title"],
        "v0"
    );
    // Each round: B holds the post (in Redis and in its near cache), A changes it, B reads it at once.
    let update = "mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { version } } }";
    for round in 1..=30 {
        let title = format!("v{round}");
        let updated = gql(
            &a.base,
            update,
            json!({ "i": { "postId": id, "title": title, "content": "again" } }),
            Some(&access),
        )
        .await;
        assert_eq!(
            updated["data"]["updatePost"]["post"]["version"], round,
            "{updated:#}"
        );
        let seen = gql(&b.base, read, json!({ "id": id }), None).await;
        assert_eq!(
            seen["data"]["post"]["title"], title,
            "round {round}: B is stale"
        );
    }
    gql(
        &a.base,
        "mutation($id: ID!) { votePost(input: { postId: $id }) { post { voteCount } } }",
        json!({ "id": id }),
        Some(&access),
    )
    .await;
    let seen = gql(&b.base, read, json!({ "id": id }), None).await;
    assert_eq!(
        seen["data"]["post"],
        json!({ "title": "v30", "voteCount": 1 }),
        "B is not stale"
    );

    // The failed-login limit (3 per account here) holds across both replicas.
    for base in [&a.base, &b.base, &a.base] {
        assert_eq!(
            code(&gql(base, login, json!({ "p": "wrong-password" }), None).await),
            "UNAUTHENTICATED"
        );
    }
    assert_eq!(
        code(&gql(&b.base, login, json!({ "p": "password-1" }), None).await),
        "RATE_LIMITED"
    );
    assert_eq!(
        code(&gql(&a.base, login, json!({ "p": "password-1" }), None).await),
        "RATE_LIMITED"
    );
}
