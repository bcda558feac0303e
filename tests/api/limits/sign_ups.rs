//! Sign-ups per client: a flood with a taken name is refused at once, and logins still pass.

use futures::future::join_all;
use serde_json::json;
use tokio::sync::Barrier;

use crate::helpers::{TestApp, code, has_errors, tally};

const SIGN_UP: &str = "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }";

configured_tests!(
    sign_up_floods_are_refused_at_once_and_logins_still_pass => |c: &mut board::config::RawConfig| {
        c.sign_ups_per_client = 10;
    },
);

/// Row 3: 40 clients repeat `signUp` with a taken name while a member logs in. Taken names are refused
/// before hashing, sign-ups are limited per client, and the login is not held up.
async fn sign_up_floods_are_refused_at_once_and_logins_still_pass(app: TestApp) {
    app.sign_up("taken", "taken@example.com", "password-1")
        .await;
    app.sign_up("member", "member@example.com", "password-2")
        .await;
    let barrier = Barrier::new(41);
    let (sign_ups, login) = tokio::join!(
        join_all((0..40).map(|i| {
            let (barrier, app) = (&barrier, &app);
            async move {
                barrier.wait().await;
                app.gql(
                    SIGN_UP,
                    json!({ "i": { "name": "taken", "email": format!("flood{i}@example.com"), "password": "password-3" } }),
                    None,
                )
                .await
            }
        })),
        async {
            barrier.wait().await;
            app.login("member", "password-2").await
        }
    );
    let counts = tally(&sign_ups);
    eprintln!(
        "40 parallel sign-ups with a taken name (limit 10 per client): {counts:?}; login: {}",
        if has_errors(&login) {
            code(&login)
        } else {
            "ok"
        }
    );
    assert!(!has_errors(&login), "{login:#}");
    assert!(!counts.contains_key("ok"), "{counts:?}");
    assert!(
        *counts.get("RATE_LIMITED").unwrap_or(&0) >= 30,
        "{counts:?}"
    );
    for a in sign_ups.iter().filter(|a| code(a) == "RATE_LIMITED") {
        assert!(
            a["errors"][0]["extensions"]["retryAfterSeconds"]
                .as_u64()
                .unwrap()
                > 0
        );
    }
}
