//! `reportAdded`: a new report reaches the sockets of its category's moderators (and admins) — also when it
//! was made through another replica — and nobody else's; whoever may not read the queue is refused.

use super::*;
use crate::helpers::Backend;
use crate::helpers::ws::{Heard, WsClient};

backend_tests!(
    a_report_reaches_the_moderators_of_its_category_on_every_replica,
    only_who_may_read_the_queue_may_follow_it,
);

const REPORT_ADDED: &str = "subscription($c: ID) { reportAdded(categoryId: $c) { id reason note status subject { id } reporter { name } } }";
const REPORT: &str =
    "mutation($i: ReportContentInput!) { reportContent(input: $i) { report { id } } }";

async fn report(app: &TestApp, by: &Session, subject: &str, note: &str) -> String {
    let data = app
        .ok(
            REPORT,
            json!({ "i": { "subjectId": subject, "reason": "SPAM", "note": note } }),
            Some(&by.access),
        )
        .await;
    data["reportContent"]["report"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn following(app: &TestApp, who: &Session, category: Option<&str>) -> WsClient {
    let mut ws = WsClient::ready(&app.base, Some(&who.access)).await;
    ws.listen("r", REPORT_ADDED, json!({ "c": category })).await;
    ws
}

async fn name_of(app: &TestApp, who: &Session) -> String {
    app.ok("{ viewer { name } }", json!({}), Some(&who.access))
        .await["viewer"]["name"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn a_report_reaches_the_moderators_of_its_category_on_every_replica(one: TestApp) {
    // Reports are made through a second replica where the deployment has one (Redis carries the event);
    // the embedded default is one process.
    let beside;
    let other = if one.backend == Backend::MariaDb {
        beside = one.spawn_beside().await;
        &beside
    } else {
        &one
    };
    let w = world(&one).await;
    let community_moderator = member(&one, "커뮤mod").await;
    set_moderator(&one, &w.admin, &w.community, &community_moderator, true).await;
    let tech_post = one
        .create_post(&w.author.access, &w.tech, "신고될 글", "광고 spam")
        .await;
    let life_post = one
        .create_post(&w.author.access, &w.life, "다른 글", "본문")
        .await;

    let mut moderator_all = following(&one, &w.moderator, None).await;
    let mut moderator_tech = following(&one, &w.moderator, Some(&w.tech)).await;
    let mut admin_all = following(&one, &w.admin, None).await;
    let mut elsewhere = following(&one, &community_moderator, None).await;

    let first = report(other, &w.member, &tech_post, "광고 링크 spam").await;
    let reporter = name_of(&one, &w.member).await;
    let expected = json!({ "reportAdded": {
        "id": first, "reason": "SPAM", "note": "광고 링크 spam", "status": "OPEN",
        "subject": { "id": tech_post }, "reporter": { "name": reporter },
    }});
    for ws in [&mut moderator_all, &mut moderator_tech, &mut admin_all] {
        let seen = ws.next_of("r").await;
        assert_eq!(seen["data"], expected, "{seen:#}");
    }

    // A report in `life` (under `community`): its moderator hears it, and it is the first thing they hear,
    // so the report of `tech` never reached them; the moderator of `qna` hears nothing of it.
    let second = report(other, &w.member, &life_post, "두 번째").await;
    let seen = elsewhere.next_of("r").await;
    assert_eq!(seen["data"]["reportAdded"]["id"], second, "{seen:#}");
    let seen = admin_all.next_of("r").await;
    assert_eq!(seen["data"]["reportAdded"]["id"], second, "{seen:#}");
    assert_eq!(
        moderator_all
            .hear_within(std::time::Duration::from_millis(500))
            .await,
        None
    );

    // A dismissed moderator hears no more reports of the category, on their open socket too.
    set_moderator(&one, &w.admin, &w.qna, &w.moderator, false).await;
    let third = report(other, &w.author, &tech_post, "작성자 본인").await;
    let seen = admin_all.next_of("r").await;
    assert_eq!(seen["data"]["reportAdded"]["id"], third, "{seen:#}");
    assert_eq!(
        moderator_tech
            .hear_within(std::time::Duration::from_millis(500))
            .await,
        None
    );
}

async fn only_who_may_read_the_queue_may_follow_it(app: TestApp) {
    let w = world(&app).await;
    let refused = |ws_code: &'static str| {
        move |heard: Heard| match heard {
            Heard::Message(m) => {
                assert_eq!(m["type"], "error", "{m:#}");
                assert_eq!(m["id"], "r");
                assert_eq!(m["payload"][0]["extensions"]["code"], ws_code, "{m:#}");
            }
            other => panic!("{other:?}"),
        }
    };
    // A member who moderates nothing, with or without a category; a moderator outside their categories.
    for (who, category) in [
        (&w.member, None),
        (&w.member, Some(&w.tech)),
        (&w.moderator, Some(&w.community)),
    ] {
        let mut ws = WsClient::ready(&app.base, Some(&who.access)).await;
        ws.subscribe("r", REPORT_ADDED, json!({ "c": category }))
            .await;
        refused("FORBIDDEN")(ws.hear().await);
        // The socket stays open: a subscription it may make still runs.
        let post = app
            .create_post(&w.author.access, &w.tech, "열린 소켓", "본문")
            .await;
        ws.listen(
            "p",
            "subscription($p: ID!) { postUpdated(postId: $p) { id } }",
            json!({ "p": post }),
        )
        .await;
    }
    let mut anonymous = WsClient::ready(&app.base, None).await;
    anonymous
        .subscribe("r", REPORT_ADDED, json!({ "c": w.tech }))
        .await;
    refused("UNAUTHENTICATED")(anonymous.hear().await);
    let mut moderator = WsClient::ready(&app.base, Some(&w.moderator.access)).await;
    moderator
        .subscribe("r", REPORT_ADDED, json!({ "c": "not-an-id" }))
        .await;
    refused("BAD_USER_INPUT")(moderator.hear().await);
}
