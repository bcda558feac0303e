//! Moderation end to end over HTTP: moderators per category and their rights, removal and its visibility,
//! locks, pins, the public log, concurrent moderators; bans (site-wide with an end, per category).

mod backlog;
mod bans;
mod category_bans;
mod concurrency;
mod locks_and_pins;
mod log;
mod removal;
mod report_feed;
mod reports;
mod rights;
mod subscriptions;

use crate::helpers::{Session, TestApp, unique};
use serde_json::{Value, json};

const SET_MODERATOR: &str = "mutation($i: SetCategoryModeratorInput!) { setCategoryModerator(input: $i) { category { id moderators { id name } } } }";
const REMOVE: &str = "mutation($id: ID!, $r: String!) { removeContent(input: { subjectId: $id, reason: $r }) { subject { id ... on Post { isActive moderation { removed reason removedAt } } ... on Comment { isActive moderation { removed reason } } } } }";
const RESTORE: &str = "mutation($id: ID!) { restoreContent(input: { subjectId: $id }) { subject { id ... on Post { isActive moderation { removed } } ... on Comment { isActive moderation { removed } } } } }";
const LOG: &str = "query($c: ID) { modLog(categoryId: $c, first: 100) { totalCount nodes { id kind reason createdAt target { id } category { name } moderator { id } } } }";

/// The seeded tree's categories by name, with the people of a scenario: an admin, a moderator of `qna`
/// (so also of `tech` and `career` below it), an author and another member.
struct World {
    admin: Session,
    moderator: Session,
    author: Session,
    member: Session,
    qna: String,
    tech: String,
    community: String,
    life: String,
}

async fn category(app: &TestApp, name: &str) -> String {
    let data = app
        .ok(
            "{ categories { id name children { id name } } }",
            json!({}),
            None,
        )
        .await;
    for root in data["categories"].as_array().unwrap() {
        if root["name"] == name {
            return root["id"].as_str().unwrap().to_owned();
        }
        for child in root["children"].as_array().unwrap() {
            if child["name"] == name {
                return child["id"].as_str().unwrap().to_owned();
            }
        }
    }
    panic!("no category {name}")
}

async fn member(app: &TestApp, prefix: &str) -> Session {
    let name = format!("{prefix}{}", &unique("")[..8]);
    app.sign_up(&name, &format!("{name}@example.com"), "member-password")
        .await
}

async fn world(app: &TestApp) -> World {
    let admin = app.admin().await;
    let moderator = member(app, "모더mod").await;
    let author = member(app, "author").await;
    let member = member(app, "member").await;
    let qna = category(app, "qna").await;
    let world = World {
        tech: category(app, "tech").await,
        community: category(app, "community").await,
        life: category(app, "life").await,
        qna,
        admin,
        moderator,
        author,
        member,
    };
    set_moderator(app, &world.admin, &world.qna, &world.moderator, true).await;
    world
}

async fn set_moderator(
    app: &TestApp,
    by: &Session,
    category: &str,
    user: &Session,
    moderator: bool,
) -> Value {
    app.gql(
        SET_MODERATOR,
        json!({ "i": { "categoryId": category, "userId": user.user_id, "moderator": moderator } }),
        Some(&by.access),
    )
    .await
}

async fn remove(app: &TestApp, by: &Session, subject: &str, reason: &str) -> Value {
    app.gql(
        REMOVE,
        json!({ "id": subject, "r": reason }),
        Some(&by.access),
    )
    .await
}

async fn restore(app: &TestApp, by: &Session, subject: &str) -> Value {
    app.gql(RESTORE, json!({ "id": subject }), Some(&by.access))
        .await
}

async fn comment(app: &TestApp, who: &Session, post: &str, content: &str) -> String {
    let data = app
        .ok(
            "mutation($i: CreateCommentInput!) { createComment(input: $i) { comment { id } } }",
            json!({ "i": { "postId": post, "content": content } }),
            Some(&who.access),
        )
        .await;
    data["createComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The log (of `category`, or all of it) as `viewer` reads it.
async fn log(app: &TestApp, category: Option<&str>, viewer: Option<&Session>) -> Value {
    app.ok(
        LOG,
        json!({ "c": category }),
        viewer.map(|s| s.access.as_str()),
    )
    .await["modLog"]
        .clone()
}

/// How many entries of `kind` the log (as `viewer` sees it) holds about `target`.
fn entries(log: &Value, kind: &str, target: &str) -> usize {
    log["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == kind && n["target"]["id"] == target)
        .count()
}
