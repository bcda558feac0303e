//! Accounts end to end over HTTP: sign-up, login, tokens, profile, resignation, admin actions.

use crate::helpers::{TestApp, code, field};
use serde_json::{Value, json};

pub(super) const VIEWER: &str = "{ viewer { id name email role states { name detail } } }";
pub(super) const REFRESH: &str = "mutation($t: String!) { refreshToken(input: { refreshToken: $t }) { accessToken refreshToken user { name } } }";
const LOGOUT: &str = "mutation($t: String!) { logout(input: { refreshToken: $t }) { success } }";
const SIGN_UP: &str = "mutation($i: SignUpInput!) { signUp(input: $i) { user { id name } } }";
const BLOCK: &str = "mutation($i: BlockUserInput!) { blockUser(input: $i) { user { id states { name detail createdAt } } } }";
const UNBLOCK: &str =
    "mutation($id: ID!) { unblockUser(input: { userId: $id }) { user { states { name } } } }";
const SET_ROLE: &str = "mutation($id: ID!, $r: Role!) { setUserRole(input: { userId: $id, role: $r }) { user { role } } }";

backend_tests!(
    sign_up_login_refresh_logout,
    refresh_token_reuse_revokes_the_family,
    duplicates_conflict_ignoring_case,
    input_rules_name_their_field,
    unknown_login_and_wrong_password_look_alike,
    blocked_users_are_locked_out_even_while_cached,
    resigned_users_keep_their_id_but_lose_their_name,
    admin_mutations_need_an_admin,
    korean_and_emoji_round_trip,
    access_tokens_that_do_not_verify_are_refused,
);

async fn sign_up_login_refresh_logout(app: TestApp) {
    let signed_up = app
        .sign_up("alice", "Alice@Example.com", "correct horse")
        .await;
    let viewer = app.ok(VIEWER, json!({}), Some(&signed_up.access)).await;
    assert_eq!(viewer["viewer"]["name"], "alice");
    assert_eq!(
        viewer["viewer"]["email"], "alice@example.com",
        "emails are stored lower-case"
    );
    assert_eq!(viewer["viewer"]["role"], "USER");
    assert_eq!(viewer["viewer"]["id"], signed_up.user_id.as_str());

    // Login by name (any case) and by email.
    for login in ["alice", "ALICE", "alice@example.com", " Alice@EXAMPLE.com "] {
        let body = app.login(login, "correct horse").await;
        assert!(body.get("errors").is_none(), "login as {login:?}: {body:#}");
        assert_eq!(body["data"]["login"]["user"]["email"], "alice@example.com");
    }
    let anonymous = app.ok(VIEWER, json!({}), None).await;
    assert!(anonymous["viewer"].is_null());

    // Every login wrote a logged_in row (sign-up counts as the first login); newest first, paged.
    let history = app
        .ok(
            "{ viewer { loginHistory(first: 3) { totalCount edges { cursor node { createdAt } } pageInfo { hasNextPage endCursor } } } }",
            json!({}),
            Some(&signed_up.access),
        )
        .await;
    let history = &history["viewer"]["loginHistory"];
    assert_eq!(history["totalCount"], 5);
    assert_eq!(history["edges"].as_array().unwrap().len(), 3);
    assert_eq!(history["pageInfo"]["hasNextPage"], true);
    let rest = app
        .ok(
            "query($a: String) { viewer { loginHistory(first: 3, after: $a) { edges { cursor } pageInfo { hasNextPage hasPreviousPage } } } }",
            json!({ "a": history["pageInfo"]["endCursor"] }),
            Some(&signed_up.access),
        )
        .await;
    let rest = &rest["viewer"]["loginHistory"];
    assert_eq!(rest["edges"].as_array().unwrap().len(), 2);
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
    assert_eq!(rest["pageInfo"]["hasPreviousPage"], true);

    // Rotation: a refresh answers a new pair, and the new access token works.
    let rotated = app
        .ok(REFRESH, json!({ "t": signed_up.refresh }), None)
        .await;
    let rotated = &rotated["refreshToken"];
    assert_ne!(rotated["refreshToken"], signed_up.refresh.as_str());
    assert_eq!(rotated["user"]["name"], "alice");
    let access = rotated["accessToken"].as_str().unwrap();
    let viewer = app.ok(VIEWER, json!({}), Some(access)).await;
    assert_eq!(viewer["viewer"]["name"], "alice");

    // Logout revokes the session: its refresh token is dead, a second logout reports nothing to revoke.
    let refresh = rotated["refreshToken"].as_str().unwrap();
    let out = app.ok(LOGOUT, json!({ "t": refresh }), None).await;
    assert_eq!(out["logout"]["success"], true);
    let again = app.gql(REFRESH, json!({ "t": refresh }), None).await;
    assert_eq!(code(&again), "UNAUTHENTICATED");
    let out = app.ok(LOGOUT, json!({ "t": refresh }), None).await;
    assert_eq!(out["logout"]["success"], false);
}

async fn refresh_token_reuse_revokes_the_family(app: TestApp) {
    let first = app
        .sign_up("bob", "bob@example.com", "hunter2hunter2")
        .await;
    let other_login = app.login("bob", "hunter2hunter2").await;
    let other_refresh = other_login["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let second = app.ok(REFRESH, json!({ "t": first.refresh }), None).await;
    let second = second["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();

    // Someone replays the rotated token: refused, and the whole family dies with it.
    let replay = app.gql(REFRESH, json!({ "t": first.refresh }), None).await;
    assert_eq!(code(&replay), "UNAUTHENTICATED");
    let after = app.gql(REFRESH, json!({ "t": second }), None).await;
    assert_eq!(
        code(&after),
        "UNAUTHENTICATED",
        "the legitimate successor is revoked too"
    );

    // Another login's session is a different family and lives on.
    let unrelated = app.gql(REFRESH, json!({ "t": other_refresh }), None).await;
    assert!(unrelated.get("errors").is_none(), "{unrelated:#}");

    let garbage = app.gql(REFRESH, json!({ "t": "not-a-token" }), None).await;
    assert_eq!(code(&garbage), "UNAUTHENTICATED");
}

async fn duplicates_conflict_ignoring_case(app: TestApp) {
    app.sign_up("Carol", "carol@example.com", "password-1")
        .await;
    let cases = [
        ("carol", "other@example.com", "name"),
        ("CAROL", "other2@example.com", "name"),
        ("carol2", "CAROL@example.com", "email"),
    ];
    for (name, email, conflicting) in cases {
        let body = app
            .gql(
                SIGN_UP,
                json!({ "i": { "name": name, "email": email, "password": "password-1" } }),
                None,
            )
            .await;
        assert_eq!(code(&body), "CONFLICT", "{name}/{email}: {body:#}");
        assert_eq!(field(&body), conflicting);
    }
    // Case folding is not ASCII-only: Greek capitals collide with their lower case.
    app.sign_up("ΣΩΚΡΑΤΗΣ", "socrates@example.com", "password-1")
        .await;
    let lower = app
        .gql(SIGN_UP, json!({ "i": { "name": "σωκρατης", "email": "s3@example.com", "password": "password-1" } }), None)
        .await;
    assert_eq!(code(&lower), "CONFLICT");
    // Different emoji-free names that a case-insensitive collation might confuse stay distinct.
    app.sign_up("김철수", "kim1@example.com", "password-1")
        .await;
    app.sign_up("김철호", "kim2@example.com", "password-1")
        .await;
}

async fn input_rules_name_their_field(app: TestApp) {
    let ok_password = "eight888";
    let seventy_three = "가".repeat(24) + "a"; // 24 × 3 bytes + 1 = 73 bytes
    let seventy_two = "가".repeat(24); // exactly 72 bytes: the most bcrypt can take
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({ "name": "a", "email": "a@example.com", "password": ok_password }),
            "name",
        ),
        (
            json!({ "name": "x".repeat(31), "email": "a@example.com", "password": ok_password }),
            "name",
        ),
        (
            json!({ "name": "has space", "email": "a@example.com", "password": ok_password }),
            "name",
        ),
        (
            json!({ "name": "semi;colon", "email": "a@example.com", "password": ok_password }),
            "name",
        ),
        (
            json!({ "name": "emoji🦀", "email": "a@example.com", "password": ok_password }),
            "name",
        ),
        (
            json!({ "name": "valid", "email": "not-an-email", "password": ok_password }),
            "email",
        ),
        (
            json!({ "name": "valid", "email": "a@@example.com", "password": ok_password }),
            "email",
        ),
        (
            json!({ "name": "valid", "email": "a@example.com", "password": "seven77" }),
            "password",
        ),
        (
            json!({ "name": "valid", "email": "a@example.com", "password": seventy_three }),
            "password",
        ),
    ];
    for (input, bad_field) in cases {
        let body = app.gql(SIGN_UP, json!({ "i": input }), None).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{input}: {body:#}");
        assert_eq!(field(&body), bad_field, "{input}");
        assert!(body["data"].is_null());
    }
    // The edges that must pass: 2 and 30 characters, a Korean name, a 72-byte password.
    app.sign_up("ab", "ab@example.com", ok_password).await;
    app.sign_up(&"y".repeat(30), "y30@example.com", ok_password)
        .await;
    app.sign_up("홍길동", "hong@example.com", &seventy_two)
        .await;
    let login = app.login("홍길동", &seventy_two).await;
    assert!(login.get("errors").is_none(), "{login:#}");
    // bcrypt must not have truncated: a 73-byte password sharing the first 72 bytes does not log in.
    let truncated = app.login("홍길동", &(seventy_two.clone() + "x")).await;
    assert_eq!(code(&truncated), "UNAUTHENTICATED");

    // Pagination arguments are checked too.
    let s = app.sign_up("pager", "pager@example.com", ok_password).await;
    for (args, bad_field) in [
        ("first: 0", "first"),
        ("first: 101", "first"),
        ("after: \"zzz\"", "after"),
    ] {
        let body = app
            .gql(
                &format!("{{ viewer {{ loginHistory({args}) {{ totalCount }} }} }}"),
                json!({}),
                Some(&s.access),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{args}");
        assert_eq!(field(&body), bad_field, "{args}");
    }
}

async fn unknown_login_and_wrong_password_look_alike(app: TestApp) {
    app.sign_up("dave", "dave@example.com", "password-1").await;
    let wrong = app.login("dave", "password-2").await;
    let unknown = app.login("nobody", "password-1").await;
    assert_eq!(code(&wrong), "UNAUTHENTICATED");
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    assert_eq!(
        wrong["errors"][0]["extensions"],
        unknown["errors"][0]["extensions"]
    );
}

async fn blocked_users_are_locked_out_even_while_cached(app: TestApp) {
    let admin = app.admin().await;
    let eve = app.sign_up("eve", "eve@example.com", "password-1").await;
    // Warm every cache: the user is now cached (Redis or in-process) with no states.
    app.ok(VIEWER, json!({}), Some(&eve.access)).await;
    app.ok(VIEWER, json!({}), Some(&eve.access)).await;

    let blocked = app
        .ok(
            BLOCK,
            json!({ "i": { "userId": eve.user_id, "detail": "spam" } }),
            Some(&admin.access),
        )
        .await;
    let states = &blocked["blockUser"]["user"]["states"];
    assert_eq!(states[0]["name"], "blocked");
    assert_eq!(states[0]["detail"], "spam");

    let refused = app.gql(VIEWER, json!({}), Some(&eve.access)).await;
    assert_eq!(
        code(&refused),
        "UNAUTHENTICATED",
        "an issued token stops working: {refused:#}"
    );
    assert!(refused["data"].is_null());
    let login = app.login("eve", "password-1").await;
    assert_eq!(code(&login), "FORBIDDEN");
    let refresh = app.gql(REFRESH, json!({ "t": eve.refresh }), None).await;
    assert_eq!(
        code(&refresh),
        "UNAUTHENTICATED",
        "blocking revoked the sessions"
    );

    // Anyone may still see the user, with the block visible.
    let public = app
        .ok(
            "{ user(name: \"eve\") { name isBlocked states { name } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(public["user"]["isBlocked"], true);

    let unblocked = app
        .ok(UNBLOCK, json!({ "id": eve.user_id }), Some(&admin.access))
        .await;
    assert_eq!(unblocked["unblockUser"]["user"]["states"], json!([]));
    let login = app.login("eve", "password-1").await;
    assert!(login.get("errors").is_none(), "{login:#}");
}

async fn resigned_users_keep_their_id_but_lose_their_name(app: TestApp) {
    let frank = app
        .sign_up("frank", "frank@example.com", "password-1")
        .await;
    let resign = "mutation($p: String!) { resign(input: { password: $p }) { user { id name email states { name } } } }";
    let wrong = app
        .gql(resign, json!({ "p": "password-2" }), Some(&frank.access))
        .await;
    assert_eq!(code(&wrong), "BAD_USER_INPUT");
    assert_eq!(field(&wrong), "password");

    let done = app
        .ok(resign, json!({ "p": "password-1" }), Some(&frank.access))
        .await;
    let user = &done["resign"]["user"];
    assert_eq!(user["id"], frank.user_id.as_str());
    assert!(user["name"].is_null() && user["email"].is_null());
    assert_eq!(user["states"][0]["name"], "inactive");

    let node = app
        .ok(
            "query($id: ID!) { node(id: $id) { id ... on User { name } } }",
            json!({ "id": frank.user_id }),
            None,
        )
        .await;
    assert_eq!(node["node"]["id"], frank.user_id.as_str());
    assert!(node["node"]["name"].is_null());

    assert_eq!(
        code(&app.login("frank", "password-1").await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&app.login("frank@example.com", "password-1").await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&app.gql(VIEWER, json!({}), Some(&frank.access)).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&app.gql(REFRESH, json!({ "t": frank.refresh }), None).await),
        "UNAUTHENTICATED"
    );
    // The name and email are free again.
    app.sign_up("frank", "frank@example.com", "password-3")
        .await;
}

async fn admin_mutations_need_an_admin(app: TestApp) {
    let member = app.sign_up("gina", "gina@example.com", "password-1").await;
    let target = app.sign_up("hank", "hank@example.com", "password-1").await;
    let vars = json!({ "id": target.user_id, "r": "ADMIN" });

    let anonymous = app.gql(SET_ROLE, vars.clone(), None).await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");
    let forbidden = app.gql(SET_ROLE, vars.clone(), Some(&member.access)).await;
    assert_eq!(code(&forbidden), "FORBIDDEN");
    let forbidden = app
        .gql(
            BLOCK,
            json!({ "i": { "userId": target.user_id } }),
            Some(&member.access),
        )
        .await;
    assert_eq!(code(&forbidden), "FORBIDDEN");
    assert_eq!(
        code(
            &app.gql(
                UNBLOCK,
                json!({ "id": target.user_id }),
                Some(&member.access)
            )
            .await
        ),
        "FORBIDDEN"
    );

    // The role change takes effect on the next request, with the same token.
    let admin = app.admin().await;
    let promoted = app.ok(SET_ROLE, vars, Some(&admin.access)).await;
    assert_eq!(promoted["setUserRole"]["user"]["role"], "ADMIN");
    let viewer = app.ok(VIEWER, json!({}), Some(&target.access)).await;
    assert_eq!(viewer["viewer"]["role"], "ADMIN");
    // Admins see other users' email; members do not.
    let q = "query($id: ID!) { node(id: $id) { ... on User { email } } }";
    let seen = app
        .ok(q, json!({ "id": member.user_id }), Some(&target.access))
        .await;
    assert_eq!(seen["node"]["email"], "gina@example.com");
    let hidden = app
        .ok(q, json!({ "id": target.user_id }), Some(&member.access))
        .await;
    assert!(hidden["node"]["email"].is_null());

    // An admin cannot lock themself out.
    let me = app
        .ok("{ viewer { id } }", json!({}), Some(&admin.access))
        .await;
    let self_block = app
        .gql(
            BLOCK,
            json!({ "i": { "userId": me["viewer"]["id"] } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(code(&self_block), "BAD_USER_INPUT");
    let missing = app
        .gql(
            SET_ROLE,
            json!({ "id": "VXNlcjo5OTk5OTk=", "r": "USER" }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(code(&missing), "NOT_FOUND");
}

async fn korean_and_emoji_round_trip(app: TestApp) {
    let admin = app.admin().await;
    let user = app
        .sign_up("김민준", "minjun@example.com", "비밀번호는여덟자")
        .await;
    let detail = "스팸 게시 🚫🦀 — 세 번째 경고";
    let blocked = app
        .ok(
            BLOCK,
            json!({ "i": { "userId": user.user_id, "detail": detail } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(blocked["blockUser"]["user"]["states"][0]["detail"], detail);
    let read = app
        .ok(
            "{ user(name: \"김민준\") { name states { detail } } }",
            json!({}),
            Some(&admin.access),
        )
        .await;
    assert_eq!(read["user"]["name"], "김민준");
    assert_eq!(read["user"]["states"][0]["detail"], detail);
}

async fn access_tokens_that_do_not_verify_are_refused(app: TestApp) {
    let user = app.sign_up("ivan", "ivan@example.com", "password-1").await;
    let mut tampered = user.access.clone();
    tampered.pop();
    tampered.push(if user.access.ends_with('A') { 'B' } else { 'A' });
    let parts: Vec<&str> = user.access.split('.').collect();
    let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
    for token in [tampered.as_str(), unsigned.as_str(), "garbage"] {
        let body = app.gql(VIEWER, json!({}), Some(token)).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{token}");
    }
    let basic = app
        .client()
        .post(format!("{}/graphql", app.base))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .json(&json!({ "query": VIEWER }))
        .send()
        .await
        .unwrap();
    let body: Value = basic.json().await.unwrap();
    assert_eq!(code(&body), "UNAUTHENTICATED");
}
