//! Users by global id, a member's own profile and password, and warm reads of accounts that skip the
//! database.

use serde_json::json;

use super::lifecycle::{REFRESH, VIEWER};
use crate::helpers::{TestApp, code, field};

backend_tests!(
    nodes_resolve_users_by_global_id,
    profile_and_password_changes,
    warm_reads_skip_the_database,
);

async fn nodes_resolve_users_by_global_id(app: TestApp) {
    let a = app.sign_up("judy", "judy@example.com", "password-1").await;
    let b = app.sign_up("kate", "kate@example.com", "password-1").await;
    let q = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on User { name } } }";
    let unknown = "VXNlcjo5OTk5OTk="; // User:999999
    let other_type = "UG9zdDox"; // Post:1 — not a user
    let data = app
        .ok(
            q,
            json!({ "ids": [b.user_id, unknown, a.user_id, other_type] }),
            None,
        )
        .await;
    let nodes = data["nodes"].as_array().unwrap();
    assert_eq!(nodes[0]["name"], "kate");
    assert!(nodes[1].is_null());
    assert_eq!(nodes[2]["name"], "judy");
    assert!(nodes[3].is_null());

    let bad = app
        .gql("{ node(id: \"%%%\") { id } }", json!({}), None)
        .await;
    assert_eq!(code(&bad), "BAD_USER_INPUT");
    assert_eq!(field(&bad), "id");
    let missing = app
        .ok("{ user(name: \"nobody\") { id } }", json!({}), None)
        .await;
    assert!(missing["user"].is_null());
}

async fn profile_and_password_changes(app: TestApp) {
    let liam = app.sign_up("liam", "liam@example.com", "password-1").await;
    app.sign_up("mia", "mia@example.com", "password-1").await;
    let update =
        "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { user { name email } } }";
    let changed = app
        .ok(
            update,
            json!({ "i": { "name": "리암", "email": "LIAM2@example.com" } }),
            Some(&liam.access),
        )
        .await;
    assert_eq!(changed["updateProfile"]["user"]["name"], "리암");
    assert_eq!(
        changed["updateProfile"]["user"]["email"],
        "liam2@example.com"
    );
    let taken = app
        .gql(
            update,
            json!({ "i": { "name": "MIA" } }),
            Some(&liam.access),
        )
        .await;
    assert_eq!(code(&taken), "CONFLICT");
    assert_eq!(field(&taken), "name");
    let bad = app
        .gql(
            update,
            json!({ "i": { "email": "nope" } }),
            Some(&liam.access),
        )
        .await;
    assert_eq!(field(&bad), "email");
    assert_eq!(
        code(
            &app.gql(update, json!({ "i": { "name": "x1" } }), None)
                .await
        ),
        "UNAUTHENTICATED"
    );
    // The cache was invalidated: a read by the new name sees the change at once.
    let read = app
        .ok("{ user(name: \"리암\") { name } }", json!({}), None)
        .await;
    assert_eq!(read["user"]["name"], "리암");

    let change = "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { accessToken refreshToken user { name } } }";
    let wrong = app
        .gql(
            change,
            json!({ "i": { "currentPassword": "nope-nope", "newPassword": "password-2" } }),
            Some(&liam.access),
        )
        .await;
    assert_eq!(field(&wrong), "currentPassword");
    let short = app
        .gql(
            change,
            json!({ "i": { "currentPassword": "password-1", "newPassword": "short" } }),
            Some(&liam.access),
        )
        .await;
    assert_eq!(field(&short), "newPassword");
    let done = app
        .ok(
            change,
            json!({ "i": { "currentPassword": "password-1", "newPassword": "password-2" } }),
            Some(&liam.access),
        )
        .await;
    // Other sessions are signed out; the fresh one works.
    assert_eq!(
        code(&app.gql(REFRESH, json!({ "t": liam.refresh }), None).await),
        "UNAUTHENTICATED"
    );
    let fresh = done["changePassword"]["refreshToken"].as_str().unwrap();
    assert!(
        app.gql(REFRESH, json!({ "t": fresh }), None)
            .await
            .get("errors")
            .is_none()
    );
    assert_eq!(
        code(&app.login("리암", "password-1").await),
        "UNAUTHENTICATED"
    );
    assert!(
        app.login("리암", "password-2")
            .await
            .get("errors")
            .is_none()
    );
}

async fn warm_reads_skip_the_database(app: TestApp) {
    let a = app.sign_up("nora", "nora@example.com", "password-1").await;
    let b = app.sign_up("omar", "omar@example.com", "password-1").await;
    let c = app.sign_up("pia", "pia@example.com", "password-1").await;
    let q = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on User { name role } } }";
    let ids = json!({ "ids": [a.user_id, b.user_id, c.user_id] });
    // On Redis, a request's first cache read waits for one sync round of the near cache (app::near_cache).
    let sync = u64::from(app.backend == crate::helpers::Backend::MariaDb);
    // Sign-up reads the new user from the database without caching it, so this first read is cold.
    let (body, db, cache) = app.gql_counted(q, ids.clone(), None).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(
        (db, cache),
        (1, 2 + sync),
        "three users cold: one cache read, one IN (…) query, one cache write"
    );
    let (_, db, cache) = app.gql_counted(q, ids, None).await;
    assert_eq!((db, cache), (0, sync), "warm: near cache, no database");
    // An authenticated viewer query: the token's user comes from the near cache, reused by `viewer`.
    let (_, db, cache) = app.gql_counted(VIEWER, json!({}), Some(&a.access)).await;
    assert_eq!((db, cache), (0, sync));
}
