//! Hardening over HTTP: document limits refused before any work, token forgeries, login limits, CORS,
//! GraphiQL headers, the request timeout, and exactness under concurrent writes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp, code};
use futures::future::join_all;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const SECRET: &str = "test-secret-test-secret-test-secret-0123";
const VIEWER: &str = "{ viewer { name } }";

backend_tests!(
    failed_logins_are_limited_per_account_and_a_success_is_not_counted,
    concurrent_sign_ups_with_one_name_leave_exactly_one,
    logout_everywhere_revokes_every_session,
);

#[tokio::test]
async fn limits_refuse_documents_before_any_work() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let aliases: Vec<String> = (0..31)
        .map(|i| format!("a{i}: viewer {{ name }}"))
        .collect();
    let too_many_aliases = format!("{{ {} }}", aliases.join(" "));
    let (body, db, cache) = app.gql_counted(&too_many_aliases, json!({}), None).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body:#}");
    assert_eq!(
        (db, cache),
        (0, 0),
        "refused before the database and the cache"
    );
    let thirty: Vec<String> = (0..30)
        .map(|i| format!("a{i}: viewer {{ name }}"))
        .collect();
    let ok = app
        .gql(&format!("{{ {} }}", thirty.join(" ")), json!({}), None)
        .await;
    assert!(ok.get("errors").is_none(), "30 aliases are allowed: {ok:#}");

    let many_tokens = format!("{{ {} }}", "viewer { name } ".repeat(1700));
    let (body, db, cache) = app.gql_counted(&many_tokens, json!({}), None).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX");
    assert_eq!((db, cache), (0, 0));

    let ids: Vec<String> = (1..=100).map(|i| format!("\"VXNlcjo{i}\"")).collect();
    let expensive = format!(
        "{{ nodes(ids: [{}]) {{ ... on User {{ posts(first: 100) {{ nodes {{ comments(first: 100) {{ nodes {{ id }} }} }} }} }} }} }}",
        ids.join(",")
    );
    let (body, db, cache) = app.gql_counted(&expensive, json!({}), None).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX");
    assert_eq!((db, cache), (0, 0));

    for bad in ["first: 0", "first: 101", "last: 1000", "first: -5"] {
        let body = app
            .gql(
                &format!("{{ posts({bad}) {{ totalCount }} }}"),
                json!({}),
                None,
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{bad}");
    }
}

#[tokio::test]
async fn no_suggestions_without_introspection() {
    let open = TestApp::spawn(Backend::Sqlite).await;
    let closed = TestApp::spawn_with(Backend::Sqlite, |c| c.introspection = false).await;
    let typo = "{ viewr { name } }";
    let hint = open.gql(typo, json!({}), None).await;
    assert!(
        hint["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{hint:#}"
    );
    let silent = closed.gql(typo, json!({}), None).await;
    assert_eq!(code(&silent), "BAD_USER_INPUT");
    assert!(
        !silent["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{silent:#}"
    );
}

#[tokio::test]
async fn slow_requests_end_with_a_clear_error() {
    // bcrypt at cost 12 takes far longer than 5 ms: the sign-up is stopped, the server keeps answering.
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.request_timeout_ms = 5;
        c.bcrypt_cost = 12;
    })
    .await;
    let body = app
        .gql(
            "mutation { signUp(input: { name: \"slowpoke\", email: \"s@example.com\", password: \"password-1\" }) { accessToken } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(code(&body), "SERVICE_UNAVAILABLE", "{body:#}");
    let health = app
        .client()
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

fn forge(claims: Value, algorithm: Algorithm, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        &claims,
        &EncodingKey::from_secret(key),
    )
    .unwrap()
}

#[tokio::test]
async fn forged_and_stale_tokens_are_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let user = app
        .sign_up("target", "target@example.com", "password-1")
        .await;
    let valid = app.ok(VIEWER, json!({}), Some(&user.access)).await;
    assert_eq!(valid["viewer"]["name"], "target");
    let payload: Value = {
        use base64::Engine;
        let part = user.access.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    };
    let now = chrono::Utc::now().timestamp();
    let with = |changes: Value| {
        let mut claims = payload.clone();
        for (k, v) in changes.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    };
    let cases = [
        (
            "expired",
            forge(
                with(json!({ "exp": now - 60, "iat": now - 960 })),
                Algorithm::HS256,
                SECRET.as_bytes(),
            ),
        ),
        (
            "wrong issuer",
            forge(
                with(json!({ "iss": "evil" })),
                Algorithm::HS256,
                SECRET.as_bytes(),
            ),
        ),
        (
            "wrong audience",
            forge(
                with(json!({ "aud": "evil" })),
                Algorithm::HS256,
                SECRET.as_bytes(),
            ),
        ),
        (
            "other algorithm",
            forge(payload.clone(), Algorithm::HS512, SECRET.as_bytes()),
        ),
        (
            "wrong key",
            forge(
                payload.clone(),
                Algorithm::HS256,
                b"another-secret-another-secret-0123",
            ),
        ),
        (
            "unknown user",
            forge(
                with(json!({ "sub": "999999" })),
                Algorithm::HS256,
                SECRET.as_bytes(),
            ),
        ),
        ("malformed", "abc.def".to_owned()),
        ("empty", String::new()),
    ];
    for (what, token) in cases {
        let body = app.gql(VIEWER, json!({}), Some(&token)).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{what}: {body:#}");
        assert!(body["data"].is_null(), "{what}");
    }
    let header = app
        .client()
        .post(format!("{}/graphql", app.base))
        .header("authorization", "Bearer")
        .json(&json!({ "query": VIEWER }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(&header.json::<Value>().await.unwrap()),
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn cors_and_graphiql_headers() {
    let closed = TestApp::spawn(Backend::Sqlite).await;
    let open = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.cors_allowed_origins = vec!["https://board.example".into()]
    })
    .await;
    let preflight = |app: &TestApp, origin: &str| {
        app.client()
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
    };
    let none = preflight(&closed, "https://board.example").await.unwrap();
    assert!(
        none.headers().get("access-control-allow-origin").is_none(),
        "no origin allowed by default"
    );
    let allowed = preflight(&open, "https://board.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://board.example"
    );
    assert!(
        allowed
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let allowed_headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for needed in [
        "content-type",
        "authorization",
        "traceparent",
        "apollographql-client-name",
        "apollographql-client-version",
        "x-request-id",
    ] {
        assert!(
            allowed_headers.contains(needed),
            "{needed}: {allowed_headers}"
        );
    }
    let other = preflight(&open, "https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    let page = closed
        .client()
        .get(format!("{}/", closed.base))
        .send()
        .await
        .unwrap();
    let headers = page.headers();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

async fn failed_logins_are_limited_per_account_and_a_success_is_not_counted(app: TestApp) {
    app.sign_up("guarded", "guarded@example.com", "password-1")
        .await;
    app.sign_up("neighbour", "neighbour@example.com", "password-1")
        .await;
    // Four failures, then a success: the success is not counted, the failures stay counted for the window
    // (a success in the middle of a burst of guesses must not make room for more of them).
    for _ in 0..4 {
        assert_eq!(
            code(&app.login("guarded", "wrong-password").await),
            "UNAUTHENTICATED"
        );
    }
    assert!(
        app.login("guarded", "password-1")
            .await
            .get("errors")
            .is_none()
    );
    assert_eq!(
        code(&app.login("GUARDED", "wrong-password").await),
        "UNAUTHENTICATED"
    );
    // The sixth attempt is refused before the password is checked, even the right one, with a hint.
    let limited = app
        .login(
            "guarded@example.com".replace("@example.com", "").as_str(),
            "password-1",
        )
        .await;
    assert_eq!(code(&limited), "RATE_LIMITED", "{limited:#}");
    let retry = limited["errors"][0]["extensions"]["retryAfterSeconds"]
        .as_u64()
        .unwrap();
    assert!(retry > 0 && retry <= 900);
    // Another account from the same client is not affected.
    assert!(
        app.login("neighbour", "password-1")
            .await
            .get("errors")
            .is_none()
    );
}

async fn concurrent_sign_ups_with_one_name_leave_exactly_one(app: TestApp) {
    let attempts = (0..20).map(|i| {
        let app = &app;
        async move {
            app.gql(
                "mutation($i: SignUpInput!) { signUp(input: $i) { user { id } } }",
                json!({ "i": { "name": "Popular", "email": format!("p{i}@example.com"), "password": "password-1" } }),
                None,
            )
            .await
        }
    });
    let results = join_all(attempts).await;
    let won = results.iter().filter(|b| b.get("errors").is_none()).count();
    assert_eq!(won, 1, "exactly one sign-up wins");
    for body in results.iter().filter(|b| b.get("errors").is_some()) {
        assert_eq!(code(body), "CONFLICT", "{body:#}");
    }
}

async fn logout_everywhere_revokes_every_session(app: TestApp) {
    let first = app
        .sign_up("roamer", "roamer@example.com", "password-1")
        .await;
    let second = app.login("roamer", "password-1").await;
    let second_refresh = second["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = app
        .ok(
            "mutation { logoutEverywhere { success } }",
            json!({}),
            Some(&first.access),
        )
        .await;
    assert_eq!(out["logoutEverywhere"]["success"], true);
    let refresh =
        "mutation($t: String!) { refreshToken(input: { refreshToken: $t }) { accessToken } }";
    for token in [first.refresh.as_str(), second_refresh.as_str()] {
        assert_eq!(
            code(&app.gql(refresh, json!({ "t": token }), None).await),
            "UNAUTHENTICATED"
        );
    }
    assert_eq!(
        code(
            &app.gql("mutation { logoutEverywhere { success } }", json!({}), None)
                .await
        ),
        "UNAUTHENTICATED"
    );
}
