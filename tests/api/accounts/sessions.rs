//! Sessions: forged and stale access tokens, refresh-token families, logging out everywhere.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, code};

const SECRET: &str = "test-secret-test-secret-test-secret-0123";
const VIEWER: &str = "{ viewer { name } }";

backend_tests!(
    logout_with_a_rotated_refresh_token_ends_the_family,
    logout_everywhere_revokes_every_session,
);

/// Row 13: `logout` with an older, already rotated refresh token ends the whole family.
async fn logout_with_a_rotated_refresh_token_ends_the_family(app: TestApp) {
    let first = app
        .sign_up("family", "family@example.com", "password-1")
        .await;
    let refreshed = app
        .ok(
            "mutation($t: String!) { refreshToken(input: { refreshToken: $t }) { refreshToken } }",
            json!({ "t": first.refresh }),
            None,
        )
        .await;
    let newest = refreshed["refreshToken"]["refreshToken"].as_str().unwrap();
    let logout = app
        .ok(
            "mutation($t: String!) { logout(input: { refreshToken: $t }) { success } }",
            json!({ "t": first.refresh }),
            None,
        )
        .await;
    assert_eq!(logout["logout"]["success"], true);
    let reuse = app
        .gql(
            "mutation($t: String!) { refreshToken(input: { refreshToken: $t }) { refreshToken } }",
            json!({ "t": newest }),
            None,
        )
        .await;
    assert_eq!(code(&reuse), "UNAUTHENTICATED", "{reuse:#}");
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
