//! User names and emails: names whose lower case is longer, look-alikes, decomposed emails, and one winner
//! among concurrent sign-ups with one name.

use futures::future::join_all;
use serde_json::json;

use crate::helpers::{TestApp, code, field, has_errors};

const SIGN_UP: &str = "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }";

backend_tests!(
    a_name_whose_lower_case_is_longer_still_signs_up,
    look_alike_names_and_decomposed_emails_are_refused,
    concurrent_sign_ups_with_one_name_leave_exactly_one,
);

/// Row 9: `İ` lower-cases to two characters; 16 of them made a 32-character name key that MariaDB refused.
async fn a_name_whose_lower_case_is_longer_still_signs_up(app: TestApp) {
    for (i, n) in [30, 15].into_iter().enumerate() {
        let answer = app
            .gql(
                SIGN_UP,
                json!({ "i": { "name": "İ".repeat(n), "email": format!("dotted{i}@example.com"), "password": "password-1" } }),
                None,
            )
            .await;
        assert!(!has_errors(&answer), "{answer:#}");
    }
    // The same name again differs only in case from nothing else: it is taken.
    let twin = app
        .gql(
            SIGN_UP,
            json!({ "i": { "name": "İ".repeat(30), "email": "dotted2@example.com", "password": "password-1" } }),
            None,
        )
        .await;
    assert_eq!(code(&twin), "CONFLICT", "{twin:#}");
}

/// Row 15: look-alikes of an existing name, and an email in decomposed form, are refused.
async fn look_alike_names_and_decomposed_emails_are_refused(app: TestApp) {
    app.sign_up("kimura", "josé@example.com", "password-1")
        .await;
    for name in ["ｋｉｍｕｒａ", "кimura", "𝐤𝐢𝐦𝐮𝐫𝐚"] {
        let answer = app
            .gql(
                SIGN_UP,
                json!({ "i": { "name": name, "email": format!("{}@example.com", name.len()), "password": "password-1" } }),
                None,
            )
            .await;
        assert_eq!(code(&answer), "BAD_USER_INPUT", "{name}: {answer:#}");
        assert_eq!(field(&answer), "name");
    }
    let answer = app
        .gql(
            SIGN_UP,
            json!({ "i": { "name": "other", "email": "jose\u{301}@example.com", "password": "password-1" } }),
            None,
        )
        .await;
    assert_eq!(code(&answer), "CONFLICT", "{answer:#}");
    assert_eq!(field(&answer), "email");
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
