//! The login limiter: failed password checks are counted per account before bcrypt runs, whatever form
//! names the account (or none does), and shared with the password checks of a session.

use futures::future::join_all;
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::helpers::{TestApp, code, field, has_errors, outcome, tally};

const CHANGE_PASSWORD: &str =
    "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { accessToken } }";
const RESIGN: &str = "mutation($i: ResignInput!) { resign(input: $i) { user { id } } }";

backend_tests!(
    failed_logins_are_limited_per_account_in_every_form_and_a_success_is_not_counted,
    parallel_guesses_are_counted_before_bcrypt,
    password_checks_of_a_session_share_the_account_limit,
    an_overlong_login_is_refused_before_any_key_is_made,
);

configured_tests!(
    unknown_logins_are_limited_like_existing_accounts => |c: &mut board::config::RawConfig| {
        c.login_failures_per_account = 3;
    },
    refused_attempts_do_not_count => |c: &mut board::config::RawConfig| {
        c.login_failures_per_account = 3;
    },
);

/// Failed logins are limited per account, whatever form names it (the name in any case, the email in any
/// case): four failures, then a success, which is not counted — the failures stay counted for the window
/// (a success in the middle of a burst of guesses must not make room for more of them).
async fn failed_logins_are_limited_per_account_in_every_form_and_a_success_is_not_counted(
    app: TestApp,
) {
    app.sign_up("guarded", "guarded@example.com", "password-1")
        .await;
    app.sign_up("neighbour", "neighbour@example.com", "password-1")
        .await;
    for login in [
        "guarded",
        "Guarded",
        "guarded@example.com",
        "GUARDED@example.com",
    ] {
        let answer = app.login(login, "wrong-password").await;
        assert_eq!(code(&answer), "UNAUTHENTICATED", "{login}: {answer:#}");
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
    // The sixth attempt is refused before the password is checked, even the right one, by name or by
    // email, with a hint.
    for login in ["guarded", "guarded@example.com"] {
        let limited = app.login(login, "password-1").await;
        assert_eq!(code(&limited), "RATE_LIMITED", "{login}: {limited:#}");
        let retry = limited["errors"][0]["extensions"]["retryAfterSeconds"]
            .as_u64()
            .unwrap();
        assert!(retry > 0 && retry <= 900);
    }
    // Another account from the same client is not affected.
    assert!(
        app.login("neighbour", "password-1")
            .await
            .get("errors")
            .is_none()
    );
}

/// Row 2: 20 wrong passwords and the right one, all at once, for an account limited to 5 guesses. Each guess
/// is counted before bcrypt runs, so at most 5 are checked.
async fn parallel_guesses_are_counted_before_bcrypt(app: TestApp) {
    app.sign_up("guessed", "guessed@example.com", "right-password")
        .await;
    let barrier = Barrier::new(21);
    let answers = join_all((0..21).map(|i| {
        let barrier = &barrier;
        let app = &app;
        async move {
            let password = if i == 20 {
                "right-password".to_owned()
            } else {
                format!("wrong-{i}")
            };
            barrier.wait().await;
            app.login("guessed", &password).await
        }
    }))
    .await;
    let counts = tally(&answers);
    let checked = counts.get("ok").unwrap_or(&0) + counts.get("UNAUTHENTICATED").unwrap_or(&0);
    let limited = *counts.get("RATE_LIMITED").unwrap_or(&0);
    let right = if has_errors(&answers[20]) {
        code(&answers[20]).to_owned()
    } else {
        "ok".to_owned()
    };
    eprintln!(
        "20 wrong + 1 right in parallel (limit 5): {checked} checked, {limited} RATE_LIMITED, the right one: {right}"
    );
    // At most 5 wrong guesses reach bcrypt; the right one, if checked, takes its slot back.
    assert!(
        *counts.get("UNAUTHENTICATED").unwrap_or(&0) <= 5,
        "{counts:?}"
    );
    assert!(checked <= 6, "{counts:?}");
    assert_eq!(checked + limited, 21, "{counts:?}");
    for a in answers
        .iter()
        .filter(|a| has_errors(a) && code(a) == "RATE_LIMITED")
    {
        assert!(
            a["errors"][0]["extensions"]["retryAfterSeconds"]
                .as_u64()
                .unwrap()
                > 0
        );
    }
    if right != "ok" {
        let again = app.login("guessed", "right-password").await;
        assert_eq!(code(&again), "RATE_LIMITED");
    }
}

/// Row 6: with a stolen access token, guesses of `currentPassword` (and `resign`'s password) are limited like
/// logins, and share the account's limit with them.
async fn password_checks_of_a_session_share_the_account_limit(app: TestApp) {
    let owner = app
        .sign_up("stolen", "stolen@example.com", "owner-password")
        .await;
    let barrier = Barrier::new(10);
    let answers = join_all((0..10).map(|i| {
        let (barrier, app, owner) = (&barrier, &app, &owner);
        async move {
            barrier.wait().await;
            app.gql(
                CHANGE_PASSWORD,
                json!({ "i": { "currentPassword": format!("guess-{i}"), "newPassword": "taken-over-1" } }),
                Some(&owner.access),
            )
            .await
        }
    }))
    .await;
    let counts = tally(&answers);
    eprintln!("10 parallel changePassword guesses (limit 5): {counts:?}");
    assert!(
        *counts.get("BAD_USER_INPUT").unwrap_or(&0) <= 5,
        "{counts:?}"
    );
    assert!(*counts.get("RATE_LIMITED").unwrap_or(&0) >= 5, "{counts:?}");
    assert!(!counts.contains_key("ok"));
    // The right password is refused now, whichever mutation carries it.
    let resign = app
        .gql(
            RESIGN,
            json!({ "i": { "password": "owner-password" } }),
            Some(&owner.access),
        )
        .await;
    assert_eq!(code(&resign), "RATE_LIMITED", "{resign:#}");
    let login = app.login("stolen", "owner-password").await;
    assert_eq!(code(&login), "RATE_LIMITED", "{login:#}");
}

/// Row 8: a 500 000-character login is refused by its length, before anything is looked up or counted.
async fn an_overlong_login_is_refused_before_any_key_is_made(app: TestApp) {
    let answer = app.login(&"k".repeat(500_000), "password-1").await;
    assert_eq!(code(&answer), "BAD_USER_INPUT", "{answer:#}");
    assert_eq!(field(&answer), "login");
    let longest = format!("{}@example.com", "k".repeat(64));
    let answer = app.login(&longest, "password-1").await;
    assert_eq!(code(&answer), "UNAUTHENTICATED", "{answer:#}");
}

/// Wrong guesses for a login that names no account are counted like those for an account that exists, so
/// the answers after the limit do not tell the two apart (enumeration); other logins are not affected.
async fn unknown_logins_are_limited_like_existing_accounts(app: TestApp) {
    app.sign_up("existing", "existing@example.com", "password-1")
        .await;
    let mut seen = Vec::new();
    for login in ["existing", "nobody-here"] {
        let answers = join_all((0..5).map(|_| app.login(login, "wrong-guess"))).await;
        let mut outcomes: Vec<String> = answers.iter().map(outcome).collect();
        outcomes.sort();
        eprintln!("5 wrong guesses for {login} (limit 3): {outcomes:?}");
        seen.push(outcomes);
    }
    assert_eq!(
        seen[0], seen[1],
        "an unknown login answers like a known one"
    );
    assert_eq!(
        seen[0],
        [
            "RATE_LIMITED",
            "RATE_LIMITED",
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "UNAUTHENTICATED"
        ]
    );
    // Case-folded: the same name in capitals shares the count.
    let answer = app.login("NOBODY-HERE", "wrong-guess").await;
    assert_eq!(code(&answer), "RATE_LIMITED", "{answer:#}");
    let answer = app.login("someone-else", "wrong-guess").await;
    assert_eq!(code(&answer), "UNAUTHENTICATED", "{answer:#}");
}

/// 24 logins with the right password at once, for an account limited to 3 guesses: those over the limit
/// are refused while the others are being checked, but a refusal is not counted — once the burst is over
/// the owner logs in, and the retry hint is within the window.
async fn refused_attempts_do_not_count(app: TestApp) {
    app.sign_up("burst", "burst@example.com", "password-1")
        .await;
    let barrier = Barrier::new(24);
    let answers = join_all((0..24).map(|_| async {
        barrier.wait().await;
        app.login("burst", "password-1").await
    }))
    .await;
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|a| outcome(a) == "RATE_LIMITED")
        .collect();
    let ok = answers.iter().filter(|a| outcome(a) == "ok").count();
    eprintln!(
        "24 right passwords at once, limit 3: {ok} ok, {} refused",
        refused.len()
    );
    assert_eq!(ok + refused.len(), 24);
    for answer in &refused {
        let retry = answer["errors"][0]["extensions"]["retryAfterSeconds"]
            .as_u64()
            .unwrap();
        assert!((1..=900).contains(&retry), "{answer:#}");
    }
    let after = app.login("burst", "password-1").await;
    assert_eq!(outcome(&after), "ok", "the owner is locked out: {after:#}");
}

/// The Redis counters' take-back (port contract): it takes 1 from a count above 0, removes a counter it
/// brings to 0, and neither makes a count negative nor creates a counter that was never added to (it would
/// have no expiry).
#[tokio::test]
async fn a_take_back_never_makes_a_redis_count_negative_nor_creates_one() {
    use board::ports::{CounterWindows, Counters};
    use fred::prelude::KeysInterface;

    let (cache, prefix) = crate::helpers::redis::shared_cache("takeback").await;
    let (counted, other, missing) = (
        format!("{prefix}:{{s}}:1"),
        format!("{prefix}:{{s}}:0"),
        format!("{prefix}:{{t}}:1"),
    );
    let windows = [CounterWindows {
        current: counted.clone(),
        previous: other,
    }];
    cache
        .add_reading(&windows, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    for _ in 0..3 {
        cache
            .take_back(&[counted.clone(), missing.clone()])
            .await
            .unwrap();
    }
    let counts = cache
        .read(&[counted.clone(), missing.clone()])
        .await
        .unwrap();
    assert_eq!(counts, vec![0, 0]);
    let url = std::env::var("TEST_REDIS_URL").unwrap();
    let redis = fred::prelude::Builder::from_config(fred::prelude::Config::from_url(&url).unwrap())
        .build()
        .unwrap();
    fred::prelude::ClientLike::init(&redis).await.unwrap();
    let exists: i64 = redis.exists(&counted).await.unwrap();
    assert_eq!(
        exists, 0,
        "a counter taken back to 0 is removed, never below 0"
    );
    let exists: i64 = redis.exists(&missing).await.unwrap();
    assert_eq!(exists, 0, "no counter made by a take-back");
}
