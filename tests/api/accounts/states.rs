//! User states that admins set: their notes are for admins and the user only.

use serde_json::json;

use crate::helpers::TestApp;

backend_tests!(state_notes_are_private_to_admins_and_the_user);

/// Row 17: an admin's note on a user's state is for admins and the user only.
async fn state_notes_are_private_to_admins_and_the_user(app: TestApp) {
    let admin = app.admin().await;
    let user = app
        .sign_up("noted", "noted@example.com", "password-1")
        .await;
    app.ok(
        "mutation($i: BlockUserInput!) { blockUser(input: $i) { user { id } } }",
        json!({ "i": { "userId": user.user_id, "detail": "private: repeated spam" } }),
        Some(&admin.access),
    )
    .await;
    let query = "{ user(name: \"noted\") { states { name detail } } }";
    let anonymous = app.ok(query, json!({}), None).await;
    assert_eq!(anonymous["user"]["states"][0]["name"], "blocked");
    assert!(
        anonymous["user"]["states"][0]["detail"].is_null(),
        "{anonymous:#}"
    );
    let other = app
        .sign_up("other", "other@example.com", "password-1")
        .await;
    let seen = app.ok(query, json!({}), Some(&other.access)).await;
    assert!(seen["user"]["states"][0]["detail"].is_null());
    let seen = app.ok(query, json!({}), Some(&admin.access)).await;
    assert_eq!(
        seen["user"]["states"][0]["detail"],
        "private: repeated spam"
    );
}
