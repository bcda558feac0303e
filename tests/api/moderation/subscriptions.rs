//! `postUpdated` follows a removal with each subscriber's rights: `null` to those who may no longer see
//! the post, the post (with why) to its author and the category's moderators.

use super::*;
use crate::helpers::ws::WsClient;

backend_tests!(a_removal_reaches_each_subscriber_with_its_own_rights);

const POST_UPDATED: &str =
    "subscription($p: ID!) { postUpdated(postId: $p) { isActive moderation { removed reason } } }";

async fn a_removal_reaches_each_subscriber_with_its_own_rights(app: TestApp) {
    let w = world(&app).await;
    let post = app
        .create_post(&w.author.access, &w.tech, "구독 글", "본문")
        .await;
    let mut watchers = Vec::new();
    for viewer in [None, Some(&w.member), Some(&w.author), Some(&w.moderator)] {
        let mut ws = WsClient::ready(&app.base, viewer.map(|s| s.access.as_str())).await;
        ws.listen("p", POST_UPDATED, json!({ "p": post })).await;
        watchers.push(ws);
    }
    let removed = remove(&app, &w.moderator, &post, "규칙 위반").await;
    assert!(removed.get("errors").is_none(), "{removed:#}");
    for (n, ws) in watchers.iter_mut().enumerate() {
        let seen = ws.next_of("p").await;
        if n < 2 {
            assert_eq!(seen["data"]["postUpdated"], Value::Null, "{seen:#}");
        } else {
            assert_eq!(
                seen["data"]["postUpdated"],
                json!({ "isActive": false, "moderation": { "removed": true, "reason": "규칙 위반" } }),
                "{seen:#}"
            );
        }
    }
    restore(&app, &w.moderator, &post).await;
    for ws in &mut watchers[2..] {
        let seen = ws.next_of("p").await;
        assert_eq!(seen["data"]["postUpdated"]["isActive"], true, "{seen:#}");
    }
}
