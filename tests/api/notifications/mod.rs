//! The notification inbox end to end: replies, mentions, watchers and moderation notify the right members
//! once each (after the write, through the outbox), the inbox pages, counts and marks read, and
//! `notificationAdded` pushes them over graphql-ws. docs/notifications.md.

mod fanout;
mod inbox;
mod kinds;
mod outbox;

use std::time::{Duration, Instant};

use crate::helpers::{Session, TestApp, code, field};
use serde_json::{Value, json};

const CREATE_COMMENT: &str =
    "mutation($i: CreateCommentInput!) { createComment(input: $i) { comment { id } } }";
const INBOX: &str = "query($unread: Boolean) { viewer { unreadNotificationCount notifications(unreadOnly: $unread, first: 100) { totalCount nodes { id kind read createdAt actor { name } reportResolution subject { id __typename } } } } }";
const MARK_READ: &str = "mutation($i: MarkNotificationsReadInput!) { markNotificationsRead(input: $i) { unreadCount } }";

async fn member(app: &TestApp, name: &str) -> Session {
    let email = format!("{}@example.com", crate::helpers::unique("n"));
    app.sign_up(name, &email, "password-1").await
}

async fn comment(
    app: &TestApp,
    who: &Session,
    post: &str,
    parent: Option<&str>,
    text: &str,
) -> String {
    let data = app
        .ok(
            CREATE_COMMENT,
            json!({ "i": { "postId": post, "parentId": parent, "content": text } }),
            Some(&who.access),
        )
        .await;
    data["createComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The member's whole inbox, newest first.
async fn inbox(app: &TestApp, who: &Session) -> Value {
    app.ok(INBOX, json!({}), Some(&who.access)).await["viewer"].clone()
}

/// `(kind, subject id)` of every notification of the member, newest first.
async fn kinds(app: &TestApp, who: &Session) -> Vec<(String, String)> {
    inbox(app, who).await["notifications"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["kind"].as_str().unwrap().to_owned(),
                n["subject"]["id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// Waits (at most 20 s) until the member has `count` notifications: the fan-out runs after the write
/// answered. Fails with what the inbox held.
async fn await_count(app: &TestApp, who: &Session, count: usize) -> Vec<(String, String)> {
    let started = Instant::now();
    loop {
        let found = kinds(app, who).await;
        if found.len() >= count || started.elapsed() > Duration::from_secs(20) {
            assert_eq!(found.len(), count, "notifications: {found:?}");
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Lets every pending fan-out finish: a marker write whose own notification arrives last (one process
/// fans out in outbox order).
async fn settle(app: &TestApp) {
    let writer = member(app, &crate::helpers::unique("w")[..12]).await;
    let reader = member(app, &crate::helpers::unique("r")[..12]).await;
    let category = app.first_category().await;
    let name = reader_name(app, &reader).await;
    app.create_post(&writer.access, &category, "marker", &format!("@{name}"))
        .await;
    await_count(app, &reader, 1).await;
}

async fn reader_name(app: &TestApp, who: &Session) -> String {
    app.ok("{ viewer { name } }", json!({}), Some(&who.access))
        .await["viewer"]["name"]
        .as_str()
        .unwrap()
        .to_owned()
}
