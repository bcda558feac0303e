//! The report queue: reporting, one open report per member and subject, the report budget, who sees the
//! queue and the reporter, and resolutions (once, even when two moderators race).

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::Barrier;

use super::{World, member, world};
use crate::helpers::{Session, TestApp, code, field, tally};

const REPORT: &str = "mutation($i: ReportContentInput!) { reportContent(input: $i) { report { id reason note status createdAt reporter { id } subject { id } } } }";
const RESOLVE: &str = "mutation($i: ResolveReportInput!) { resolveReport(input: $i) { report { id status resolution resolvedAt } } }";
const QUEUE: &str = "query($s: ReportStatus, $c: ID) { reports(status: $s, categoryId: $c, first: 50) { totalCount nodes { id reason note status reporter { id } subject { id } } } }";

async fn report(
    app: &TestApp,
    who: &Session,
    subject: &str,
    reason: &str,
    note: Option<&str>,
) -> Value {
    app.gql(
        REPORT,
        json!({ "i": { "subjectId": subject, "reason": reason, "note": note } }),
        Some(&who.access),
    )
    .await
}

fn report_id(answer: &Value) -> String {
    answer["data"]["reportContent"]["report"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer:#}"))
        .to_owned()
}

async fn resolve(app: &TestApp, who: &Session, report: &str, action: &str, extra: Value) -> Value {
    let mut input = json!({ "reportId": report, "action": action });
    input
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.gql(RESOLVE, json!({ "i": input }), Some(&who.access))
        .await
}

fn ids_of(queue: &Value) -> Vec<String> {
    queue["reports"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

backend_tests!(
    members_report_and_moderators_of_the_category_see_the_queue,
    one_open_report_per_member_and_subject_under_concurrency,
    one_resolution_wins_a_race,
    remove_and_ban_removes_bans_and_settles_the_other_reports,
    a_report_of_content_its_author_deleted_is_resolved_without_a_removal,
    a_moderator_of_a_child_category_cannot_ban_the_parents_moderator,
);

configured_tests!(
    reports_per_member_are_limited => |c| c.reports_per_user = 3,
);

/// Row 3: a member reports a post (their own too, with a Korean note); the moderators of its category and
/// admins see it in the queue with its reporter; the reporter sees no reporter; others are FORBIDDEN.
async fn members_report_and_moderators_of_the_category_see_the_queue(app: TestApp) {
    let World {
        admin,
        moderator,
        author,
        member: reporter,
        tech,
        life,
        qna,
        community,
        ..
    } = world(&app).await;
    let post = app
        .create_post(&author.access, &tech, "신고 대상 post", "body")
        .await;
    let answer = report(&app, &reporter, &post, "SPAM", Some("광고 링크 spam link")).await;
    let report_node = &answer["data"]["reportContent"]["report"];
    assert_eq!(report_node["status"], "OPEN", "{answer:#}");
    assert_eq!(report_node["note"], "광고 링크 spam link");
    assert_eq!(report_node["subject"]["id"], post);
    assert!(
        report_node["reporter"].is_null(),
        "the reporter does not see who reported"
    );
    let spam = report_id(&answer);
    // Reporting one's own content is allowed.
    let own = report_id(&report(&app, &author, &post, "OTHER", None).await);

    for (viewer, category) in [
        (&moderator, None),
        (&moderator, Some(&qna)),
        (&admin, None),
        (&admin, Some(&tech)),
    ] {
        let queue = app
            .ok(QUEUE, json!({ "c": category }), Some(&viewer.access))
            .await;
        let listed = ids_of(&queue);
        assert_eq!(
            listed,
            [spam.clone(), own.clone()],
            "oldest first: {queue:#}"
        );
        assert_eq!(queue["reports"]["totalCount"], 2);
        assert_eq!(
            queue["reports"]["nodes"][0]["reporter"]["id"],
            reporter.user_id
        );
    }
    // Another moderator's categories: not theirs to see.
    let other = member(&app, "othermod").await;
    app.ok(
        "mutation($i: SetCategoryModeratorInput!) { setCategoryModerator(input: $i) { category { id } } }",
        json!({ "i": { "categoryId": community, "userId": other.user_id, "moderator": true } }),
        Some(&admin.access),
    )
    .await;
    let queue = app.ok(QUEUE, json!({}), Some(&other.access)).await;
    assert_eq!(queue["reports"]["totalCount"], 0);
    let refused = app
        .gql(QUEUE, json!({ "c": tech }), Some(&other.access))
        .await;
    assert_eq!(code(&refused), "FORBIDDEN");
    let refused = app
        .gql(QUEUE, json!({ "c": life }), Some(&moderator.access))
        .await;
    assert_eq!(code(&refused), "FORBIDDEN");
    let refused = app.gql(QUEUE, json!({}), Some(&reporter.access)).await;
    assert_eq!(code(&refused), "FORBIDDEN");
    let refused = app.gql(QUEUE, json!({}), None).await;
    assert_eq!(code(&refused), "UNAUTHENTICATED");

    // By id: moderators see it with its reporter, others get null.
    let by_id = "query($id: ID!) { node(id: $id) { ... on Report { id reason reporter { id } } } }";
    let seen = app
        .ok(by_id, json!({ "id": spam }), Some(&moderator.access))
        .await;
    assert_eq!(seen["node"]["reporter"]["id"], reporter.user_id);
    let hidden = app
        .ok(by_id, json!({ "id": spam }), Some(&reporter.access))
        .await;
    assert!(hidden["node"].is_null());

    // Bad input: a user id is not a subject; nothing that does not exist can be reported.
    let refused = report(&app, &reporter, &reporter.user_id, "SPAM", None).await;
    assert_eq!(code(&refused), "BAD_USER_INPUT");
    assert_eq!(field(&refused), "subjectId");
    let too_long = "가".repeat(1001);
    let refused = report(&app, &reporter, &post, "SPAM", Some(&too_long)).await;
    assert_eq!(field(&refused), "note");
    // Statuses filter the queue.
    let dismissed = app
        .ok(QUEUE, json!({ "s": "DISMISSED" }), Some(&admin.access))
        .await;
    assert_eq!(dismissed["reports"]["totalCount"], 0);
}

/// Row 3: the same member reporting the same subject many times at once: one report, the rest CONFLICT;
/// once it is resolved the member may report it again.
async fn one_open_report_per_member_and_subject_under_concurrency(app: TestApp) {
    let w = world(&app).await;
    let post = app
        .create_post(&w.author.access, &w.tech, "중복 report", "body")
        .await;
    let app = Arc::new(app);
    let barrier = Arc::new(Barrier::new(6));
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (app, barrier, who, post) =
            (app.clone(), barrier.clone(), w.member.clone(), post.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            report(&app, &who, &post, "HARASSMENT", None).await
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let counts = tally(&answers);
    assert_eq!(counts.get("ok"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("CONFLICT"), Some(&5), "{counts:?}");
    let first = answers.iter().find(|a| a.get("errors").is_none()).unwrap();
    let queue = app.ok(QUEUE, json!({}), Some(&w.moderator.access)).await;
    assert_eq!(queue["reports"]["totalCount"], 1);
    // Dismissed: a new report of the same subject by the same member is welcome.
    let dismissed = resolve(&app, &w.moderator, &report_id(first), "DISMISS", json!({})).await;
    assert_eq!(
        dismissed["data"]["resolveReport"]["report"]["status"], "DISMISSED",
        "{dismissed:#}"
    );
    let again = report(&app, &w.member, &post, "SPAM", None).await;
    assert!(again.get("errors").is_none(), "{again:#}");
}

/// Row 3: past `reports_per_user` in the window, reporting answers RATE_LIMITED with retryAfterSeconds.
async fn reports_per_member_are_limited(app: TestApp) {
    let w = world(&app).await;
    let mut answers = Vec::new();
    for n in 0..4 {
        let post = app
            .create_post(&w.author.access, &w.life, &format!("post {n}"), "body")
            .await;
        answers.push(report(&app, &w.member, &post, "SPAM", None).await);
    }
    for answer in &answers[..3] {
        assert!(answer.get("errors").is_none(), "{answer:#}");
    }
    assert_eq!(code(&answers[3]), "RATE_LIMITED", "{:#}", answers[3]);
    assert!(
        answers[3]["errors"][0]["extensions"]["retryAfterSeconds"]
            .as_u64()
            .unwrap()
            > 0
    );
    // Another member has a budget of their own.
    let post = app
        .create_post(&w.author.access, &w.life, "other", "body")
        .await;
    let other = report(&app, &w.author, &post, "SPAM", None).await;
    assert!(other.get("errors").is_none(), "{other:#}");
}

/// Row 3: two moderators resolve one report at once: one wins, the other gets CONFLICT; the content is
/// removed once and the log has one resolution.
async fn one_resolution_wins_a_race(app: TestApp) {
    let w = world(&app).await;
    let post = app
        .create_post(&w.author.access, &w.tech, "경합 race", "body")
        .await;
    let report = report_id(&report(&app, &w.member, &post, "ILLEGAL", None).await);
    let app = Arc::new(app);
    let barrier = Arc::new(Barrier::new(2));
    let mut tasks = Vec::new();
    for who in [w.admin.clone(), w.moderator.clone()] {
        let (app, barrier, report) = (app.clone(), barrier.clone(), report.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            resolve(
                &app,
                &who,
                &report,
                "REMOVE",
                json!({ "reason": "불법 illegal" }),
            )
            .await
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let counts = tally(&answers);
    assert_eq!(counts.get("ok"), Some(&1), "{answers:#?}");
    assert_eq!(counts.get("CONFLICT"), Some(&1), "{answers:#?}");
    let won = answers.iter().find(|a| a.get("errors").is_none()).unwrap();
    assert_eq!(
        won["data"]["resolveReport"]["report"]["resolution"],
        "REMOVE"
    );
    assert_eq!(won["data"]["resolveReport"]["report"]["status"], "RESOLVED");
    assert!(won["data"]["resolveReport"]["report"]["resolvedAt"].is_string());
    let gone = app
        .ok(
            "query($id: ID!) { post(id: $id) { id } }",
            json!({ "id": post }),
            None,
        )
        .await;
    assert!(gone["post"].is_null(), "a removed post is gone for readers");
    // Later: CONFLICT too.
    let late = resolve(&app, &w.moderator, &report, "DISMISS", json!({})).await;
    assert_eq!(code(&late), "CONFLICT");
    let log = app
        .ok(
            "{ modLog(first: 50) { nodes { kind target { id } } } }",
            json!({}),
            Some(&w.admin.access),
        )
        .await;
    let kinds: Vec<&str> = log["modLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["target"]["id"] == post)
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["REMOVE", "RESOLVE_REPORT"], "{log:#}");
}

/// Row 3: REMOVE_AND_BAN removes a comment, bans its author from the category until `banUntil`, and
/// settles the other open reports of it; its rules: `banUntil` only with it, not an admin's content, and
/// only a moderator of the category resolves.
async fn remove_and_ban_removes_bans_and_settles_the_other_reports(app: TestApp) {
    let w = world(&app).await;
    let post = app
        .create_post(&w.author.access, &w.tech, "post", "body")
        .await;
    let comment = super::comment(&app, &w.author, &post, "나쁜 댓글 bad").await;
    let first = report_id(&report(&app, &w.member, &comment, "HARASSMENT", None).await);
    let second = report_id(&report(&app, &w.moderator, &comment, "SPAM", None).await);

    let refused = resolve(&app, &w.member, &first, "REMOVE", json!({})).await;
    assert_eq!(code(&refused), "FORBIDDEN");
    let refused = resolve(
        &app,
        &w.moderator,
        &first,
        "DISMISS",
        json!({ "banUntil": super::bans::at(60.0) }),
    )
    .await;
    assert_eq!(field(&refused), "banUntil");
    let refused = resolve(
        &app,
        &w.moderator,
        &first,
        "REMOVE_AND_BAN",
        json!({ "banUntil": super::bans::at(-60.0) }),
    )
    .await;
    assert_eq!(field(&refused), "banUntil");

    let done = resolve(
        &app,
        &w.moderator,
        &first,
        "REMOVE_AND_BAN",
        json!({ "reason": "괴롭힘", "banUntil": super::bans::at(3600.0) }),
    )
    .await;
    assert_eq!(
        done["data"]["resolveReport"]["report"]["resolution"], "REMOVE_AND_BAN",
        "{done:#}"
    );
    let gone = app
        .ok(
            "query($id: ID!) { comment(id: $id) { id } }",
            json!({ "id": comment }),
            None,
        )
        .await;
    assert!(gone["comment"].is_null());
    let banned = app
        .gql(
            "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
            json!({ "i": { "categoryId": w.tech, "title": "t", "content": "c" } }),
            Some(&w.author.access),
        )
        .await;
    assert_eq!(code(&banned), "FORBIDDEN");
    let bans = app
        .ok(
            "query($id: ID!) { category(id: $id) { bans { nodes { user { id } until reason } } } }",
            json!({ "id": w.tech }),
            Some(&w.moderator.access),
        )
        .await;
    assert_eq!(
        bans["category"]["bans"]["nodes"][0]["user"]["id"],
        w.author.user_id
    );
    assert_eq!(bans["category"]["bans"]["nodes"][0]["reason"], "괴롭힘");
    // The other report of the same comment is settled with it.
    let queue = app.ok(QUEUE, json!({}), Some(&w.admin.access)).await;
    assert!(!ids_of(&queue).contains(&second), "{queue:#}");
    let resolved = app
        .ok(QUEUE, json!({ "s": "RESOLVED" }), Some(&w.admin.access))
        .await;
    assert!(ids_of(&resolved).contains(&second), "{resolved:#}");

    // An admin's content can be removed but its author not banned.
    let admin_post = app
        .create_post(&w.admin.access, &w.tech, "admin post", "body")
        .await;
    let on_admin = report_id(&report(&app, &w.member, &admin_post, "OFF_TOPIC", None).await);
    let refused = resolve(&app, &w.moderator, &on_admin, "REMOVE_AND_BAN", json!({})).await;
    assert_eq!(code(&refused), "FORBIDDEN");
    let still_open = app.ok(QUEUE, json!({}), Some(&w.admin.access)).await;
    assert!(
        ids_of(&still_open).contains(&on_admin),
        "refused before anything was claimed"
    );
}

/// The author deletes the reported post before a moderator gets to it: `REMOVE` and `REMOVE_AND_BAN` still
/// resolve the report (nothing is left to remove); the ban still holds.
async fn a_report_of_content_its_author_deleted_is_resolved_without_a_removal(app: TestApp) {
    let World {
        moderator,
        author,
        member: reporter,
        tech,
        ..
    } = world(&app).await;
    let post = app
        .create_post(&author.access, &tech, "지울 글", "body")
        .await;
    let first = report_id(&report(&app, &reporter, &post, "SPAM", None).await);
    app.ok(
        "mutation($id: ID!) { deletePost(input: { postId: $id }) { deletedId } }",
        json!({ "id": post }),
        Some(&author.access),
    )
    .await;
    let answer = resolve(&app, &moderator, &first, "REMOVE_AND_BAN", json!({})).await;
    assert!(answer.get("errors").is_none(), "{answer:#}");
    assert_eq!(
        answer["data"]["resolveReport"]["report"]["status"],
        "RESOLVED"
    );
    let refused = app
        .gql(
            "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
            json!({ "i": { "categoryId": tech, "title": "again", "content": "x" } }),
            Some(&author.access),
        )
        .await;
    assert_eq!(code(&refused), "FORBIDDEN", "banned from the category");
}

/// A moderator of `tech` (below `qna`) cannot ban the moderator of `qna` from `tech`; an admin can.
async fn a_moderator_of_a_child_category_cannot_ban_the_parents_moderator(app: TestApp) {
    let World {
        admin,
        moderator,
        tech,
        ..
    } = world(&app).await;
    let child = member(&app, "child모더").await;
    super::set_moderator(&app, &admin, &tech, &child, true).await;
    let ban = json!({ "i": { "categoryId": tech, "userId": moderator.user_id, "reason": "맞불 revenge" } });
    let mutation =
        "mutation($i: BanFromCategoryInput!) { banFromCategory(input: $i) { ban { until } } }";
    let refused = app.gql(mutation, ban.clone(), Some(&child.access)).await;
    assert_eq!(code(&refused), "FORBIDDEN", "{refused:#}");
    let upward = json!({ "i": { "categoryId": tech, "userId": child.user_id } });
    let refused = app
        .gql(mutation, upward.clone(), Some(&moderator.access))
        .await;
    assert_eq!(code(&refused), "FORBIDDEN", "nor the other way round");
    let banned = app.gql(mutation, ban, Some(&admin.access)).await;
    assert!(banned.get("errors").is_none(), "{banned:#}");
}
