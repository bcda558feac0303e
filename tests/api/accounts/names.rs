//! User names and emails: which names may be chosen (scripts mixed as Korean, Japanese and Chinese mix them
//! with Latin, never Latin with Cyrillic), names whose lower case is longer, look-alikes of taken names
//! (`CONFLICT`, on sign-up, on rename and between concurrent sign-ups), decomposed emails, and one winner
//! among concurrent sign-ups with one name.

use futures::future::join_all;
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::helpers::{TestApp, code, field, has_errors};

const SIGN_UP: &str = "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }";
const RENAME: &str =
    "mutation($n: String!) { updateProfile(input: { name: $n }) { user { name } } }";

backend_tests!(
    names_korean_users_choose_are_accepted_and_mixed_scripts_refused,
    look_alikes_of_a_taken_name_conflict,
    a_rename_to_a_look_alike_conflicts,
    parallel_sign_ups_of_look_alikes_leave_exactly_one,
    a_name_whose_lower_case_is_longer_still_signs_up,
    look_alike_names_and_decomposed_emails_are_refused,
    concurrent_sign_ups_with_one_name_leave_exactly_one,
);

async fn sign_up(app: &TestApp, name: &str, email: &str) -> Value {
    app.gql(
        "mutation($i: SignUpInput!) { signUp(input: $i) { user { id name } } }",
        json!({ "i": { "name": name, "email": email, "password": "password-1" } }),
        None,
    )
    .await
}

async fn names_korean_users_choose_are_accepted_and_mixed_scripts_refused(app: TestApp) {
    let accepted = [
        // Hangul with Latin, digits, `_` and `-` (Highly Restrictive: Latin + Han + Hangul).
        "철수kim",
        "dev_철수",
        "앨리스_bob",
        "게시판Admin",
        "김철수",
        "철수99",
        "2024신입",
        "홍길동_Hong",
        "kim-영희",
        // Japanese (Latin + Han + Kana) and Chinese (Latin + Han + Bopomofo).
        "東京tokyo",
        "山田たろう",
        "李ㄅㄆ_li",
        // Any one script alone.
        "ким",
        "Ωμέγα",
        "José",
    ];
    for (i, name) in accepted.into_iter().enumerate() {
        let answer = sign_up(&app, name, &format!("ok{i}@example.com")).await;
        assert!(!has_errors(&answer), "{name} was refused: {answer:#}");
        assert_eq!(answer["data"]["signUp"]["user"]["name"], name);
        let login = app.login(name, "password-1").await;
        assert!(!has_errors(&login), "{name} cannot sign in: {login:#}");
    }
    let refused = [
        // Latin with Cyrillic (`а` U+0430, `к` U+043A) or Greek (`α`, `Ω`).
        "pаypal",
        "кim",
        "pαypal",
        "Ωmega",
        // Hangul with Kana: no writing system mixes them.
        "철수たろう",
        // Compatibility forms: full-width Latin, Hangul compatibility jamo.
        "ｋｉｍ",
        "ㅋㅋ",
        // Length and characters.
        "a",
        "철수 kim",
        "kim🦀",
    ];
    for (i, name) in refused.into_iter().enumerate() {
        let answer = sign_up(&app, name, &format!("no{i}@example.com")).await;
        assert_eq!(code(&answer), "BAD_USER_INPUT", "{name}: {answer:#}");
        assert_eq!(field(&answer), "name", "{name}");
    }
    let mixed = sign_up(&app, "pаypal", "mixed@example.com").await;
    let message = mixed["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("scripts"), "{message}");
}

/// `рау` is Cyrillic throughout (one script, so a valid name) and `PAY` differs in case only: both are `pay`.
async fn look_alikes_of_a_taken_name_conflict(app: TestApp) {
    app.sign_up("pay", "pay@example.com", "password-1").await;
    app.sign_up("철수kim", "kim@example.com", "password-1")
        .await;
    for (i, name) in ["рау", "PAY", "Pay", "РАУ", "철수KIM", "철수kirn"]
        .into_iter()
        .enumerate()
    {
        let answer = sign_up(&app, name, &format!("twin{i}@example.com")).await;
        assert_eq!(code(&answer), "CONFLICT", "{name}: {answer:#}");
        assert_eq!(field(&answer), "name", "{name}");
    }
    // Nothing was created: the email of a refused sign-up is still free.
    let answer = sign_up(&app, "paymaster", "twin0@example.com").await;
    assert!(!has_errors(&answer), "{answer:#}");
    // Names that merely resemble each other in letters, not in looks, stay apart.
    for (i, name) in ["pey", "철수lee", "철수"].into_iter().enumerate() {
        let answer = sign_up(&app, name, &format!("apart{i}@example.com")).await;
        assert!(!has_errors(&answer), "{name}: {answer:#}");
    }
}

/// A rename writes without looking first: the unique key on the skeleton answers, as `CONFLICT`.
async fn a_rename_to_a_look_alike_conflicts(app: TestApp) {
    app.sign_up("pay", "pay@example.com", "password-1").await;
    let bob = app.sign_up("bob", "bob@example.com", "password-1").await;
    for name in ["рау", "PAY"] {
        let answer = app
            .gql(RENAME, json!({ "n": name }), Some(&bob.access))
            .await;
        assert_eq!(code(&answer), "CONFLICT", "{name}: {answer:#}");
        assert_eq!(field(&answer), "name", "{name}");
    }
    // A user may change the case of their own name, and take a name nobody's looks like.
    for name in ["Bob", "밥bob"] {
        let data = app
            .ok(RENAME, json!({ "n": name }), Some(&bob.access))
            .await;
        assert_eq!(data["updateProfile"]["user"]["name"], name);
    }
    // The old name's skeleton went with it: `bob` is free again.
    let answer = sign_up(&app, "BOB", "bob2@example.com").await;
    assert!(!has_errors(&answer), "{answer:#}");
}

/// Two sign-ups of look-alike names released together: one wins, the other is a `CONFLICT` (never an
/// internal error), whether the check before writing or the unique key caught it.
async fn parallel_sign_ups_of_look_alikes_leave_exactly_one(app: TestApp) {
    for round in 0..10 {
        let barrier = Barrier::new(2);
        let attempt = |name: String, email: String| {
            let (app, barrier) = (&app, &barrier);
            async move {
                barrier.wait().await;
                sign_up(app, &name, &email).await
            }
        };
        let (latin, cyrillic) = tokio::join!(
            attempt(format!("pay{round}"), format!("latin{round}@example.com")),
            attempt(
                format!("рау{round}"),
                format!("cyrillic{round}@example.com")
            ),
        );
        let outcomes = [&latin, &cyrillic].map(crate::helpers::outcome);
        let won = outcomes.iter().filter(|o| *o == "ok").count();
        assert_eq!(won, 1, "round {round}: {latin:#} {cyrillic:#}");
        let loser = if has_errors(&latin) {
            &latin
        } else {
            &cyrillic
        };
        assert_eq!(code(loser), "CONFLICT", "{loser:#}");
        assert_eq!(field(loser), "name", "{loser:#}");
    }
}

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
