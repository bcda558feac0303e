//! The request pipeline's entry points for transports that drive execution themselves (subscriptions):
//! one operation text checked against the same limits as over HTTP, and an `Authorization` value
//! authenticated with the same refusals.

use crate::helpers::TestApp;
use board::domain::AppError;

/// A pipeline over the same database and configuration as `app`'s server.
async fn pipeline_of(app: &TestApp) -> board::graphql::pipeline::Pipeline {
    board::App::build(app.config.clone())
        .await
        .unwrap()
        .pipeline()
}

async fn operations_are_checked_against_the_limits(app: TestApp) {
    let pipeline = pipeline_of(&app).await;
    let document = pipeline
        .check_operation("subscription Added { postAdded { id title } }")
        .unwrap();
    assert_eq!(document.operations.iter().count(), 1);
    // The same text again comes from the parse cache: the same document.
    let again = pipeline
        .check_operation("subscription Added { postAdded { id title } }")
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(&document, &again));

    let deep = format!(
        "{{ {}id{} }}",
        "categories { children { ".repeat(8),
        " } }".repeat(8)
    );
    let aliases: String = (0..40).map(|i| format!("a{i}: viewer {{ id }} ")).collect();
    let tokens = format!("{{ {} }}", "viewer { id } ".repeat(2_000));
    let introspection =
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
    for (text, code) in [
        (deep.as_str(), "QUERY_TOO_COMPLEX"),
        (format!("{{ {aliases} }}").as_str(), "QUERY_TOO_COMPLEX"),
        (tokens.as_str(), "QUERY_TOO_COMPLEX"),
        (introspection, "QUERY_TOO_COMPLEX"),
        ("subscription {", "BAD_USER_INPUT"),
    ] {
        let refusal = pipeline.check_operation(text).unwrap_err();
        assert_eq!(refusal.code, code, "{text}: {refusal:?}");
        assert!(!refusal.message.is_empty());
        let response = refusal.response();
        assert_eq!(response.errors.len(), 1);
    }
}

async fn authorization_values_are_authenticated_like_http(app: TestApp) {
    let session = app
        .sign_up("pipelined", "pipelined@example.com", "password-1")
        .await;
    let pipeline = pipeline_of(&app).await;
    assert!(pipeline.authenticate(None).await.unwrap().is_none());
    let user = pipeline
        .authenticate(Some(&format!("Bearer {}", session.access)))
        .await
        .unwrap()
        .expect("a user");
    assert_eq!(user.name.as_deref(), Some("pipelined"));
    for value in ["Bearer not-a-token", "Basic dXNlcjpwdw==", "", "Bearer"] {
        let err = pipeline.authenticate(Some(value)).await.unwrap_err();
        assert!(
            matches!(err, AppError::Unauthenticated(_)),
            "{value}: {err:?}"
        );
    }
    // A blocked user's token stops working. (A pipeline of its own: embedded, a second process would not
    // hear the server's cache invalidations, which a real deployment never has.)
    let admin = app.admin().await;
    app.ok(
        "mutation($i: BlockUserInput!) { blockUser(input: $i) { user { id } } }",
        serde_json::json!({ "i": { "userId": session.user_id } }),
        Some(&admin.access),
    )
    .await;
    let err = pipeline_of(&app)
        .await
        .authenticate(Some(&format!("Bearer {}", session.access)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppError::Unauthenticated(m) if m.contains("blocked")),
        "{err:?}"
    );
}

backend_tests!(
    operations_are_checked_against_the_limits,
    authorization_values_are_authenticated_like_http,
);
