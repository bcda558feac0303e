//! Bans from one category: writes refused in its subtree only, an end that comes by itself, who may ban,
//! and a ban racing a post.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use super::bans::{at, member, name_of};
use crate::helpers::{TestApp, code, field};

const BAN: &str = "mutation($i: BanFromCategoryInput!) { banFromCategory(input: $i) { ban { reason until createdAt user { id } category { id } } } }";
const UNBAN: &str =
    "mutation($i: UnbanFromCategoryInput!) { unbanFromCategory(input: $i) { success } }";
const COMMENT: &str =
    "mutation($i: CreateCommentInput!) { createComment(input: $i) { comment { id } } }";
const VOTE: &str = "mutation($id: ID!) { votePost(input: { postId: $id }) { post { voteCount } } }";
const CREATE_POST: &str =
    "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }";

/// The ids of the seeded categories by name.
pub(super) async fn categories(app: &TestApp) -> std::collections::HashMap<String, String> {
    let data = app
        .ok(
            "{ categories { id name children { id name } } }",
            json!({}),
            None,
        )
        .await;
    let mut ids = std::collections::HashMap::new();
    for root in data["categories"].as_array().unwrap() {
        ids.insert(
            root["name"].as_str().unwrap().to_owned(),
            root["id"].as_str().unwrap().to_owned(),
        );
        for child in root["children"].as_array().unwrap() {
            ids.insert(
                child["name"].as_str().unwrap().to_owned(),
                child["id"].as_str().unwrap().to_owned(),
            );
        }
    }
    ids
}

async fn try_post(app: &TestApp, token: &str, category: &str) -> serde_json::Value {
    app.gql(
        CREATE_POST,
        json!({ "i": { "categoryId": category, "title": "글 title", "content": "내용 body" } }),
        Some(token),
    )
    .await
}

backend_tests!(
    a_category_ban_refuses_writes_only_in_that_subtree,
    a_category_ban_ends_by_itself,
    only_moderators_ban_and_see_bans,
    a_ban_racing_a_post_never_leaves_a_later_post_visible,
);

/// Row 2: banned from `qna`, a member cannot post in `tech` (below it), comment or vote there, with a
/// clear FORBIDDEN; `community` stays open; lifting the ban opens `qna` again.
async fn a_category_ban_refuses_writes_only_in_that_subtree(app: TestApp) {
    let admin = app.admin().await;
    let ids = categories(&app).await;
    let user = member(&app, "철수ban").await;
    let author = member(&app, "author").await;
    let in_tech = app
        .create_post(&author.access, &ids["tech"], "tech post", "body")
        .await;
    let in_life = app
        .create_post(&author.access, &ids["life"], "life post", "body")
        .await;

    let banned = app
        .ok(
            BAN,
            json!({ "i": { "categoryId": ids["qna"], "userId": user.user_id, "reason": "스팸 spam" } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(banned["banFromCategory"]["ban"]["reason"], "스팸 spam");
    assert!(banned["banFromCategory"]["ban"]["until"].is_null());
    assert_eq!(banned["banFromCategory"]["ban"]["user"]["id"], user.user_id);

    for category in ["qna", "tech"] {
        let refused = try_post(&app, &user.access, &ids[category]).await;
        assert_eq!(code(&refused), "FORBIDDEN", "{refused:#}");
        let message = refused["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("banned"), "{message}");
    }
    let refused = app
        .gql(
            COMMENT,
            json!({ "i": { "postId": in_tech, "content": "댓글" } }),
            Some(&user.access),
        )
        .await;
    assert_eq!(code(&refused), "FORBIDDEN", "{refused:#}");
    let refused = app
        .gql(VOTE, json!({ "id": in_tech }), Some(&user.access))
        .await;
    assert_eq!(code(&refused), "FORBIDDEN", "{refused:#}");
    // Nothing was counted by the refused writes.
    let post = app
        .ok(
            "query($id: ID!) { post(id: $id) { voteCount commentCount } }",
            json!({ "id": in_tech }),
            None,
        )
        .await;
    assert_eq!(post["post"], json!({ "voteCount": 0, "commentCount": 0 }));

    // Outside the subtree everything works.
    let ok = try_post(&app, &user.access, &ids["community"]).await;
    assert!(ok.get("errors").is_none(), "{ok:#}");
    app.ok(
        COMMENT,
        json!({ "i": { "postId": in_life, "content": "댓글" } }),
        Some(&user.access),
    )
    .await;
    app.ok(VOTE, json!({ "id": in_life }), Some(&user.access))
        .await;

    let lifted = app
        .ok(
            UNBAN,
            json!({ "i": { "categoryId": ids["qna"], "userId": user.user_id } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(lifted["unbanFromCategory"]["success"], true);
    let again = app
        .ok(
            UNBAN,
            json!({ "i": { "categoryId": ids["qna"], "userId": user.user_id } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(again["unbanFromCategory"]["success"], false);
    let ok = try_post(&app, &user.access, &ids["tech"]).await;
    assert!(ok.get("errors").is_none(), "{ok:#}");
    app.ok(VOTE, json!({ "id": in_tech }), Some(&user.access))
        .await;
}

/// Row 2: a category ban with `until` ends by itself; an `until` in the past is refused.
async fn a_category_ban_ends_by_itself(app: TestApp) {
    let admin = app.admin().await;
    let ids = categories(&app).await;
    let user = member(&app, "timed").await;
    let past = app
        .gql(
            BAN,
            json!({ "i": { "categoryId": ids["news"], "userId": user.user_id, "until": at(-5.0) } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(code(&past), "BAD_USER_INPUT");
    assert_eq!(field(&past), "until");

    let until = at(2.0);
    app.ok(
        BAN,
        json!({ "i": { "categoryId": ids["news"], "userId": user.user_id, "until": until } }),
        Some(&admin.access),
    )
    .await;
    let end = chrono::DateTime::parse_from_rfc3339(&until)
        .unwrap()
        .with_timezone(&Utc);
    let refused = try_post(&app, &user.access, &ids["news"]).await;
    assert_eq!(code(&refused), "FORBIDDEN");
    let mut posted = None;
    for _ in 0..50 {
        let answer = try_post(&app, &user.access, &ids["news"]).await;
        if answer.get("errors").is_none() {
            posted = Some(Utc::now());
            break;
        }
        assert_eq!(code(&answer), "FORBIDDEN");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(posted.expect("the ban did not end by itself") >= end);
}

/// Row 2: a moderator bans in their category and below, not elsewhere; nobody bans an admin; members
/// cannot ban; `Category.bans` is null except for the category's moderators and admins. Both ban and unban
/// are in the public log.
async fn only_moderators_ban_and_see_bans(app: TestApp) {
    let admin = app.admin().await;
    let other_admin = app.admin().await;
    let ids = categories(&app).await;
    let moderator = member(&app, "모더").await;
    app.ok(
        "mutation($i: SetCategoryModeratorInput!) { setCategoryModerator(input: $i) { category { id } } }",
        json!({ "i": { "categoryId": ids["qna"], "userId": moderator.user_id, "moderator": true } }),
        Some(&admin.access),
    )
    .await;
    let user = member(&app, "seen").await;
    let stranger = member(&app, "stranger").await;
    let ban = |category: &str, user: &str, until: Option<String>| json!({ "i": { "categoryId": category, "userId": user, "reason": "도배 flood", "until": until } });

    let refused = app
        .gql(
            BAN,
            ban(&ids["tech"], &user.user_id, None),
            Some(&stranger.access),
        )
        .await;
    assert_eq!(code(&refused), "FORBIDDEN");
    let refused = app
        .gql(
            BAN,
            ban(&ids["life"], &user.user_id, None),
            Some(&moderator.access),
        )
        .await;
    assert_eq!(
        code(&refused),
        "FORBIDDEN",
        "a moderator of qna does not moderate life"
    );
    let refused = app
        .gql(
            BAN,
            ban(&ids["tech"], &admin.user_id, None),
            Some(&moderator.access),
        )
        .await;
    assert_eq!(
        code(&refused),
        "FORBIDDEN",
        "a moderator cannot ban an admin"
    );
    let refused = app
        .gql(
            BAN,
            ban(&ids["tech"], &other_admin.user_id, None),
            Some(&admin.access),
        )
        .await;
    assert_eq!(code(&refused), "FORBIDDEN", "nor can an admin");
    let refused = app
        .gql(
            BAN,
            ban(&ids["tech"], &moderator.user_id, None),
            Some(&moderator.access),
        )
        .await;
    assert_eq!(code(&refused), "BAD_USER_INPUT");

    let until = at(600.0);
    app.ok(
        BAN,
        ban(&ids["tech"], &user.user_id, Some(until.clone())),
        Some(&moderator.access),
    )
    .await;
    let query = "query($id: ID!) { category(id: $id) { bans(first: 5) { totalCount nodes { reason until user { id } category { name } } } } }";
    for viewer in [&moderator, &admin] {
        let seen = app
            .ok(query, json!({ "id": ids["tech"] }), Some(&viewer.access))
            .await;
        let bans = &seen["category"]["bans"];
        assert_eq!(bans["totalCount"], 1, "{seen:#}");
        assert_eq!(bans["nodes"][0]["user"]["id"], user.user_id);
        assert_eq!(bans["nodes"][0]["reason"], "도배 flood");
        assert_eq!(bans["nodes"][0]["category"]["name"], "tech");
    }
    for token in [
        None,
        Some(stranger.access.as_str()),
        Some(user.access.as_str()),
    ] {
        let hidden = app.ok(query, json!({ "id": ids["tech"] }), token).await;
        assert!(hidden["category"]["bans"].is_null(), "{hidden:#}");
    }
    app.ok(
        UNBAN,
        json!({ "i": { "categoryId": ids["tech"], "userId": user.user_id } }),
        Some(&moderator.access),
    )
    .await;
    let log = app
        .ok(
            "query($c: ID) { modLog(categoryId: $c, first: 10) { nodes { kind reason expiresAt target { id } } } }",
            json!({ "c": ids["tech"] }),
            None,
        )
        .await;
    let nodes = log["modLog"]["nodes"].as_array().unwrap();
    let kinds: Vec<&str> = nodes.iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["CATEGORY_UNBAN", "CATEGORY_BAN"], "{log:#}");
    assert_eq!(nodes[1]["target"]["id"], user.user_id);
    assert_eq!(nodes[1]["reason"], "도배 flood");
    assert!(nodes[1]["expiresAt"].is_string());
}

/// Row 2: a ban racing post creations by the banned member. Each post either committed before the ban
/// (and is visible) or is refused; none is left half-written, and once the ban has answered no post gets in.
async fn a_ban_racing_a_post_never_leaves_a_later_post_visible(app: TestApp) {
    let admin = app.admin().await;
    let ids = categories(&app).await;
    let app = std::sync::Arc::new(app);
    for round in 0..6 {
        let user = member(&app, &format!("race{round}")).await;
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(4));
        let mut posts = Vec::new();
        for _ in 0..3 {
            let (app, barrier, token, tech) = (
                app.clone(),
                barrier.clone(),
                user.access.clone(),
                ids["tech"].clone(),
            );
            posts.push(tokio::spawn(async move {
                barrier.wait().await;
                try_post(&app, &token, &tech).await
            }));
        }
        let ban = {
            let (app, barrier, admin, user_id, qna) = (
                app.clone(),
                barrier.clone(),
                admin.access.clone(),
                user.user_id.clone(),
                ids["qna"].clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                app.ok(
                    BAN,
                    json!({ "i": { "categoryId": qna, "userId": user_id } }),
                    Some(&admin),
                )
                .await
            })
        };
        ban.await.unwrap();
        let mut created = Vec::new();
        for post in posts {
            let answer = post.await.unwrap();
            match answer.get("errors") {
                None => created.push(
                    answer["data"]["createPost"]["post"]["id"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                ),
                Some(_) => assert_eq!(code(&answer), "FORBIDDEN", "{answer:#}"),
            }
        }
        // What was created is whole and visible; nothing else exists.
        let listed = app
            .ok(
                "query($u: String!) { user(name: $u) { posts(first: 10) { totalCount nodes { id title } } } }",
                json!({ "u": name_of(&app, &user).await }),
                None,
            )
            .await;
        let mut listed_ids: Vec<String> = listed["user"]["posts"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect();
        listed_ids.sort();
        created.sort();
        assert_eq!(listed_ids, created);
        let after = try_post(&app, &user.access, &ids["tech"]).await;
        assert_eq!(code(&after), "FORBIDDEN");
    }
}
