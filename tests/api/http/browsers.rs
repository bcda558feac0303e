//! What browsers are told: CORS answers, and the security headers of the GraphiQL page.

use crate::helpers::{Backend, TestApp};

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
