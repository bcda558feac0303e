//! Races, floods and amplification that single requests miss: many requests released together by a barrier,
//! small requests asking for huge answers, look-alike names (slow sockets: tests/connections.rs). Every scenario runs on SQLite and,
//! with `--include-ignored` and TEST_* set, on MariaDB + Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp, code, field};
use futures::future::join_all;
use serde_json::{Value, json};
use tokio::sync::Barrier;

const CREATE_CATEGORY: &str =
    "mutation($i: CreateCategoryInput!) { createCategory(input: $i) { category { id } } }";
const UPDATE_CATEGORY: &str =
    "mutation($i: UpdateCategoryInput!) { updateCategory(input: $i) { category { id } } }";
const CHANGE_PASSWORD: &str =
    "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { accessToken } }";
const RESIGN: &str = "mutation($i: ResignInput!) { resign(input: $i) { user { id } } }";
const SIGN_UP: &str = "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }";

fn errors(body: &Value) -> bool {
    body.get("errors").is_some()
}

/// How many answers carry each outcome (`ok` or the error code).
fn tally(answers: &[Value]) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for a in answers {
        let key = if errors(a) {
            code(a).to_owned()
        } else {
            "ok".to_owned()
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

backend_tests!(
    opposite_concurrent_moves_never_make_a_cycle,
    concurrent_root_creations_make_one_root,
    parallel_guesses_are_counted_before_bcrypt,
    password_checks_of_a_session_share_the_account_limit,
    name_and_email_guesses_share_one_account_limit,
    an_overlong_login_is_refused_before_any_key_is_made,
    logout_with_a_rotated_refresh_token_ends_the_family,
    a_name_whose_lower_case_is_longer_still_signs_up,
    look_alike_names_and_decomposed_emails_are_refused,
    state_notes_are_private_and_request_ids_plain,
);

/// Row 1: `X → under Y` and `Y → under X` at the same moment. Before, both could pass a check made against
/// the cached tree, leaving a cycle that sent `posts(categoryId:)` into an endless walk.
async fn opposite_concurrent_moves_never_make_a_cycle(app: TestApp) {
    let admin = app.admin().await;
    let mut both = 0;
    for round in 0..6 {
        let mut ids = Vec::new();
        for side in ["x", "y"] {
            let data = app
                .ok(
                    CREATE_CATEGORY,
                    json!({ "i": { "name": format!("{side}{round}") } }),
                    Some(&admin.access),
                )
                .await;
            ids.push(
                data["createCategory"]["category"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        let barrier = Barrier::new(2);
        let moves = [(&ids[0], &ids[1]), (&ids[1], &ids[0])];
        let answers = join_all(moves.iter().map(|(id, parent)| {
            let barrier = &barrier;
            let admin = &admin;
            let app = &app;
            async move {
                barrier.wait().await;
                app.gql(
                    UPDATE_CATEGORY,
                    json!({ "i": { "categoryId": id, "parentId": parent } }),
                    Some(&admin.access),
                )
                .await
            }
        }))
        .await;
        let accepted = answers.iter().filter(|a| !errors(a)).count();
        if accepted == 2 {
            both += 1;
        }
        for refused in answers.iter().filter(|a| errors(a)) {
            assert_eq!(code(refused), "BAD_USER_INPUT", "{refused:#}");
        }
        // The walk below X ends: the tree is still a tree.
        for id in &ids {
            app.ok(
                "query($c: ID!) { posts(categoryId: $c, first: 1) { totalCount } }",
                json!({ "c": id }),
                None,
            )
            .await;
        }
    }
    eprintln!("6 rounds of opposite concurrent moves: both accepted in {both}");
    assert_eq!(both, 0, "two opposite moves were both accepted");
}

/// Row 12: ten concurrent `createCategory(name: "dup")` at the root make one root.
async fn concurrent_root_creations_make_one_root(app: TestApp) {
    let admin = app.admin().await;
    let barrier = Barrier::new(10);
    let answers = join_all((0..10).map(|_| async {
        barrier.wait().await;
        app.gql(
            CREATE_CATEGORY,
            json!({ "i": { "name": "dup" } }),
            Some(&admin.access),
        )
        .await
    }))
    .await;
    let counts = tally(&answers);
    eprintln!("10 concurrent root creations: {counts:?}");
    assert_eq!(counts.get("ok"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("CONFLICT"), Some(&9), "{counts:?}");
    let roots = app.ok("{ categories { name } }", json!({}), None).await;
    let dups = roots["categories"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "dup")
        .count();
    assert_eq!(dups, 1);
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
    let right = if errors(&answers[20]) {
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
        .filter(|a| errors(a) && code(a) == "RATE_LIMITED")
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

/// Row 7: guesses by name and by email of one account count against one limit.
async fn name_and_email_guesses_share_one_account_limit(app: TestApp) {
    app.sign_up("twoforms", "twoforms@example.com", "right-password-1")
        .await;
    for login in [
        "twoforms",
        "TwoForms",
        "twoforms",
        "twoforms@example.com",
        "TWOFORMS@example.com",
    ] {
        let answer = app.login(login, "wrong-password").await;
        assert_eq!(code(&answer), "UNAUTHENTICATED", "{answer:#}");
    }
    for login in ["twoforms", "twoforms@example.com"] {
        let answer = app.login(login, "right-password-1").await;
        assert_eq!(code(&answer), "RATE_LIMITED", "{login}: {answer:#}");
    }
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
        if errors(&login) { code(&login) } else { "ok" }
    );
    assert!(!errors(&login), "{login:#}");
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
        assert!(!errors(&answer), "{answer:#}");
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

/// Row 17: an admin's note on a user's state is for admins and the user only; a client's request id is kept
/// only when short and plain.
async fn state_notes_are_private_and_request_ids_plain(app: TestApp) {
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

    let send = |id: String| {
        app.client()
            .post(format!("{}/graphql", app.base))
            .header("x-request-id", id)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
    };
    let long = "a".repeat(8_000);
    let answer = send(long.clone()).await.unwrap();
    let echoed = answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(echoed, long);
    assert!(echoed.len() <= 64, "{echoed}");
    let answer = send("trace-42.a:b_c".into()).await.unwrap();
    assert_eq!(answer.headers()["x-request-id"], "trace-42.a:b_c");
}

// ---------------------------------------------------------------------------
// Scenarios with a configuration of their own
// ---------------------------------------------------------------------------

configured_tests!(
    sign_up_floods_are_refused_at_once_and_logins_still_pass => |c: &mut board::config::RawConfig| {
        c.sign_ups_per_client = 10;
    },
    responses_edits_and_revisions_are_bounded => |c: &mut board::config::RawConfig| {
        c.edits_per_user = 3;
        c.max_response_bytes = 300_000;
    },
);

/// Row 4: a 40 000-character post edited many times, asked for through `nodes(ids:)` many times over.
async fn responses_edits_and_revisions_are_bounded(app: TestApp) {
    let author = app
        .sign_up("prolific", "prolific@example.com", "password-1")
        .await;
    let category = app.first_category().await;
    let big = "x".repeat(40_000);
    let id = app
        .create_post(&author.access, &category, "big", &big)
        .await;
    let update = "mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { version } } }";
    let mut outcomes = Vec::new();
    for n in 0..5 {
        let answer = app
            .gql(
                update,
                json!({ "i": { "postId": id, "title": format!("big {n}"), "content": big } }),
                Some(&author.access),
            )
            .await;
        outcomes.push(if errors(&answer) {
            code(&answer).to_owned()
        } else {
            "ok".to_owned()
        });
    }
    eprintln!("5 edits with a limit of 3: {outcomes:?}");
    assert_eq!(outcomes, ["ok", "ok", "ok", "RATE_LIMITED", "RATE_LIMITED"]);

    let revisions = "query($ids: [ID!]!, $last: Int) { nodes(ids: $ids) { ... on Post { revisions(last: $last) { version } } } }";
    let repeated = app
        .gql(
            revisions,
            json!({ "ids": vec![id.clone(); 100], "last": 1 }),
            None,
        )
        .await;
    assert_eq!(code(&repeated), "BAD_USER_INPUT", "{repeated:#}");
    let too_many = app
        .gql(revisions, json!({ "ids": [id], "last": 51 }), None)
        .await;
    assert_eq!(code(&too_many), "BAD_USER_INPUT", "{too_many:#}");
    let two = app
        .ok(revisions, json!({ "ids": [id], "last": 2 }), None)
        .await;
    let versions: Vec<i64> = two["nodes"][0]["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [2, 3], "the newest two, oldest first");

    // Ten distinct 40 KB posts with their revisions: far past the 300 KB response cap.
    let mut ids = vec![id];
    for n in 0..9 {
        ids.push(
            app.create_post(&author.access, &category, &format!("big{n}"), &big)
                .await,
        );
    }
    let huge = app
        .post(
            &json!({ "query": "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Post { content revisions { content } } } }", "variables": { "ids": ids } }),
            None,
        )
        .await;
    assert_eq!(huge.status(), 200);
    let bytes = huge.bytes().await.unwrap();
    eprintln!(
        "10 × 40 KB posts with revisions under a 300 KB cap: {} response bytes",
        bytes.len()
    );
    assert!(bytes.len() < 2_000);
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body:#}");
    // Stopped while the answer was being resolved, at the field that went over (not after the whole answer
    // was built): the error has that field's path, and it is the only one.
    assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{body:#}");
    assert_eq!(body["errors"][0]["path"][0], "nodes", "{body:#}");
    assert!(
        body["data"]["nodes"].is_null(),
        "no post's text is answered: {body:#}"
    );
}

/// Row 10: users hashed at cost 4, server restarted at cost 5: a login re-hashes at 5, and the dummy hash of
/// unknown logins follows the stored cost.
mod rehash {
    use super::*;

    async fn serve(config: board::config::RawConfig) -> (String, board::adapters::sql::Db) {
        let app = board::App::build(config).await.unwrap();
        let db = app.db.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(app.serve(listener, std::future::pending()));
        (base, db)
    }

    async fn stored_hash(db: &board::adapters::sql::Db) -> String {
        use board::adapters::sql::Db;
        const SQL: &str = "SELECT CAST(password AS CHAR) FROM `user` WHERE name = 'aged'";
        match db {
            Db::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await.unwrap(),
            Db::MySql(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await.unwrap(),
        }
    }

    async fn gql(base: &str, query: &str, variables: Value) -> Value {
        reqwest::Client::new()
            .post(format!("{base}/graphql"))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn scenario(backend: Backend) {
        let (config, _cleanup) = common::test_config(backend).await;
        let (old, db) = serve(config.clone()).await;
        let signed = gql(
            &old,
            SIGN_UP,
            json!({ "i": { "name": "aged", "email": "aged@example.com", "password": "password-1" } }),
        )
        .await;
        assert!(!errors(&signed), "{signed:#}");
        assert!(stored_hash(&db).await.starts_with("$2b$04$"));

        let newer = board::config::RawConfig {
            bcrypt_cost: 5,
            ..config
        };
        let (new, db) = serve(newer).await;
        let login = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }";
        let ok = gql(
            &new,
            login,
            json!({ "i": { "login": "aged", "password": "password-1" } }),
        )
        .await;
        assert!(!errors(&ok), "{ok:#}");
        let hash = stored_hash(&db).await;
        eprintln!(
            "after a login on the cost-5 server the stored hash starts {}",
            &hash[..7]
        );
        assert!(hash.starts_with("$2b$05$"), "{hash}");
        let again = gql(
            &new,
            login,
            json!({ "i": { "login": "aged", "password": "password-1" } }),
        )
        .await;
        assert!(!errors(&again), "{again:#}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        scenario(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
    async fn mariadb_redis() {
        scenario(Backend::MariaDb).await;
    }
}
