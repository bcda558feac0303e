//! Bans: a site-wide block that ends by itself, and bans from one category and its descendants.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::json;

use crate::helpers::ws::WsClient;
use crate::helpers::{Backend, Session, TestApp, code, field, unique};

const BLOCK: &str =
    "mutation($i: BlockUserInput!) { blockUser(input: $i) { user { id states { name until } } } }";
const VIEWER: &str = "{ viewer { id name } }";

pub(crate) fn at(seconds_from_now: f64) -> String {
    (Utc::now() + chrono::Duration::milliseconds((seconds_from_now * 1000.0) as i64))
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(super) async fn member(app: &TestApp, prefix: &str) -> Session {
    let name = format!("{prefix}{}", &unique("")[..6]);
    app.sign_up(&name, &format!("{name}@example.com"), "password-1")
        .await
}

pub(super) async fn name_of(app: &TestApp, session: &Session) -> String {
    let data = app.ok(VIEWER, json!({}), Some(&session.access)).await;
    data["viewer"]["name"].as_str().unwrap().to_owned()
}

backend_tests!(
    a_block_with_an_end_is_seen_at_once_and_ends_by_itself,
    a_block_must_end_in_the_future,
);

/// Row 1: `blockUser(until:)` — the next request (on any replica) is refused, refresh and login too; at
/// `until` the block is over without any write, on every replica at once.
async fn a_block_with_an_end_is_seen_at_once_and_ends_by_itself(one: TestApp) {
    // Two replicas where the deployment shares a cache (Redis); the embedded default is one process.
    let beside;
    let other = if one.backend == Backend::MariaDb {
        beside = one.spawn_beside().await;
        &beside
    } else {
        &one
    };
    let admin = one.admin().await;
    let user = member(&one, "밴kim").await;
    let name = name_of(&one, &user).await;
    // Warm: kept or cached on the other replica.
    for _ in 0..3 {
        other.ok(VIEWER, json!({}), Some(&user.access)).await;
    }

    let until = at(3.0);
    let blocked = one
        .ok(
            BLOCK,
            json!({ "i": { "userId": user.user_id, "detail": "spam", "until": until } }),
            Some(&admin.access),
        )
        .await;
    let states = &blocked["blockUser"]["user"]["states"];
    assert_eq!(states[0]["name"], "blocked");
    let shown = chrono::DateTime::parse_from_rfc3339(states[0]["until"].as_str().unwrap()).unwrap();
    let asked = chrono::DateTime::parse_from_rfc3339(&until).unwrap();
    assert_eq!(shown, asked);

    let refused = other.gql(VIEWER, json!({}), Some(&user.access)).await;
    assert_eq!(code(&refused), "UNAUTHENTICATED", "{refused:#}");
    let refresh = other
        .gql(
            "mutation($t: String!) { refreshToken(input: { refreshToken: $t }) { accessToken } }",
            json!({ "t": user.refresh }),
            None,
        )
        .await;
    assert_eq!(code(&refresh), "UNAUTHENTICATED", "{refresh:#}");
    let login = other.login(&name, "password-1").await;
    assert_eq!(code(&login), "FORBIDDEN", "{login:#}");

    // Poll until the block is over: not before `until`, and soon after it.
    let deadline = asked.with_timezone(&Utc);
    let mut lifted = None;
    for _ in 0..60 {
        let answer = other.gql(VIEWER, json!({}), Some(&user.access)).await;
        if answer.get("errors").is_none() {
            lifted = Some(Utc::now());
            break;
        }
        assert_eq!(code(&answer), "UNAUTHENTICATED");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let lifted = lifted.expect("the block did not end by itself");
    assert!(lifted >= deadline, "served before the block's end");
    // On both replicas: the access token works again, a login works, no state is listed.
    one.ok(VIEWER, json!({}), Some(&user.access)).await;
    let login = one.login(&name, "password-1").await;
    assert!(login.get("errors").is_none(), "{login:#}");
    let states = one
        .ok(
            "query($n: String!) { user(name: $n) { states { name } } }",
            json!({ "n": name }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(states["user"]["states"], json!([]));
}

/// Row 1: an end in the past, or now, is `BAD_USER_INPUT` naming `until`; nothing is blocked.
async fn a_block_must_end_in_the_future(app: TestApp) {
    let admin = app.admin().await;
    let user = member(&app, "past").await;
    for until in [at(-60.0), "not a date".to_owned()] {
        let answer = app
            .gql(
                BLOCK,
                json!({ "i": { "userId": user.user_id, "until": until } }),
                Some(&admin.access),
            )
            .await;
        assert_eq!(code(&answer), "BAD_USER_INPUT", "{answer:#}");
        if until != "not a date" {
            assert_eq!(field(&answer), "until");
        }
    }
    app.ok(VIEWER, json!({}), Some(&user.access)).await;
    // Only an admin blocks site-wide.
    let other = member(&app, "mod").await;
    let answer = app
        .gql(
            BLOCK,
            json!({ "i": { "userId": user.user_id, "until": at(60.0) } }),
            Some(&other.access),
        )
        .await;
    assert_eq!(code(&answer), "FORBIDDEN");
}

/// Row 1: an open subscription socket of a user blocked with an end is closed (4403) like any block's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_of_a_user_blocked_with_an_end_is_closed() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.ws_recheck_secs = 1).await;
    let admin = app.admin().await;
    let user = member(&app, "sock").await;
    let mut client = WsClient::ready(&app.base, Some(&user.access)).await;
    client
        .listen("1", "subscription { postAdded { id } }", json!({}))
        .await;
    app.ok(
        BLOCK,
        json!({ "i": { "userId": user.user_id, "until": at(3600.0) } }),
        Some(&admin.access),
    )
    .await;
    assert_eq!(client.closed().await, Some(4403));
}

configured_tests!(
    a_block_closes_the_members_sockets_at_once_on_every_replica => |c| {
        // Far beyond the test: only the announcement of the block can close the sockets.
        c.ws_recheck_secs = 3600;
    },
);

/// A block is announced to every process: the member's open sockets close at once (4403), there and on
/// another replica (MariaDB + Redis: a second server beside), not at the next periodic recheck; other
/// members' sockets stay.
async fn a_block_closes_the_members_sockets_at_once_on_every_replica(app: TestApp) {
    let admin = app.admin().await;
    let user = member(&app, "sock").await;
    let bystander = member(&app, "stays").await;
    let beside = match app.backend {
        Backend::MariaDb => Some(app.spawn_beside().await),
        Backend::Sqlite => None,
    };
    let base = |replica: Option<&TestApp>| replica.unwrap_or(&app).base.clone();
    let mut here = WsClient::ready(&app.base, Some(&user.access)).await;
    here.listen("1", "subscription { postAdded { id } }", json!({}))
        .await;
    let mut there = WsClient::ready(&base(beside.as_ref()), Some(&user.access)).await;
    there
        .listen("1", "subscription { postAdded { id } }", json!({}))
        .await;
    let mut other = WsClient::ready(&app.base, Some(&bystander.access)).await;
    other
        .listen("1", "subscription { postAdded { id } }", json!({}))
        .await;
    app.ok(
        BLOCK,
        json!({ "i": { "userId": user.user_id, "until": at(3600.0) } }),
        Some(&admin.access),
    )
    .await;
    assert_eq!(here.closed().await, Some(4403));
    assert_eq!(there.closed().await, Some(4403));
    let category = app.first_category().await;
    let post = app
        .create_post(&bystander.access, &category, "still here", "yes")
        .await;
    assert_eq!(
        other.next_of("1").await["data"]["postAdded"]["id"],
        post.as_str()
    );
}
