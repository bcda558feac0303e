//! The public moderation log: every action, newest first, per category (with its descendants) or for the
//! whole board; who acted only for moderators and admins.

use super::*;

backend_tests!(every_action_is_logged_and_the_moderator_is_shown_to_moderators_only);

async fn every_action_is_logged_and_the_moderator_is_shown_to_moderators_only(app: TestApp) {
    let w = world(&app).await;
    let post = app
        .create_post(&w.author.access, &w.tech, "기록 글", "본문")
        .await;
    remove(&app, &w.moderator, &post, "규칙 위반 rule 1").await;
    restore(&app, &w.moderator, &post).await;
    app.ok(
        "mutation($id: ID!) { pinPost(input: { postId: $id, pinned: true }) { post { id } } }",
        json!({ "id": post }),
        Some(&w.moderator.access),
    )
    .await;
    // Board-wide and category actions of admins.
    app.ok(
        "mutation($id: ID!) { setUserRole(input: { userId: $id, role: ADMIN }) { user { id } } }",
        json!({ "id": w.member.user_id }),
        Some(&w.admin.access),
    )
    .await;
    app.ok(
        "mutation($id: ID!) { setUserRole(input: { userId: $id, role: USER }) { user { id } } }",
        json!({ "id": w.member.user_id }),
        Some(&w.admin.access),
    )
    .await;
    app.ok(
        "mutation($id: ID!) { blockUser(input: { userId: $id, detail: \"도배\" }) { user { id } } }",
        json!({ "id": w.member.user_id }),
        Some(&w.admin.access),
    )
    .await;
    app.ok(
        "mutation($id: ID!) { unblockUser(input: { userId: $id }) { user { id } } }",
        json!({ "id": w.member.user_id }),
        Some(&w.admin.access),
    )
    .await;
    let created = app
        .ok(
            "mutation($p: ID!) { createCategory(input: { name: \"새 분류new\", parentId: $p }) { category { id } } }",
            json!({ "p": w.qna }),
            Some(&w.admin.access),
        )
        .await["createCategory"]["category"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok(
        "mutation($id: ID!) { updateCategory(input: { categoryId: $id, name: \"고친 분류\" }) { category { id } } }",
        json!({ "id": created }),
        Some(&w.admin.access),
    )
    .await;

    let all = log(&app, None, Some(&w.admin)).await;
    let kinds: Vec<&str> = all["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "CATEGORY_CHANGE",
            "CATEGORY_CHANGE",
            "UNBAN",
            "BAN",
            "SET_ROLE",
            "SET_ROLE",
            "PIN",
            "RESTORE",
            "REMOVE",
            "SET_MODERATOR",
        ],
        "newest first: {all:#}"
    );
    assert_eq!(all["totalCount"], 10);
    assert_eq!(all["nodes"][3]["reason"], "도배");
    assert_eq!(all["nodes"][3]["target"]["id"], w.member.user_id.as_str());
    assert_eq!(all["nodes"][8]["reason"], "규칙 위반 rule 1");
    assert_eq!(all["nodes"][8]["category"]["name"], "tech");
    assert_eq!(
        all["nodes"][8]["moderator"]["id"],
        w.moderator.user_id.as_str()
    );

    // Of `qna`: its own entries and those of the categories below it, nothing board-wide.
    let qna = log(&app, Some(&w.qna), None).await;
    let kinds: Vec<&str> = qna["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "CATEGORY_CHANGE",
            "CATEGORY_CHANGE",
            "PIN",
            "RESTORE",
            "REMOVE",
            "SET_MODERATOR"
        ]
    );
    assert_eq!(qna["totalCount"], 6);
    let community = log(&app, Some(&w.community), None).await;
    assert_eq!(community["totalCount"], 0);

    // Who acted: null for anonymous readers and members; shown to the moderator and admins.
    for viewer in [None, Some(&w.member), Some(&w.author)] {
        let seen = log(&app, Some(&w.qna), viewer).await;
        assert!(
            seen["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|n| n["moderator"].is_null()),
            "{seen:#}"
        );
    }
    let seen = log(&app, Some(&w.qna), Some(&w.moderator)).await;
    assert_eq!(
        seen["nodes"][2]["moderator"]["id"],
        w.moderator.user_id.as_str()
    );
    // Board-wide entries name their admin to admins only.
    let seen = log(&app, None, Some(&w.moderator)).await;
    assert!(seen["nodes"][3]["moderator"].is_null());

    // Pages: newest first, cursors continue.
    let first = app
        .ok(
            "{ modLog(first: 3) { pageInfo { hasNextPage endCursor } nodes { kind } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(first["modLog"]["pageInfo"]["hasNextPage"], true);
    let next = app
        .ok(
            "query($a: String) { modLog(first: 3, after: $a) { nodes { kind } } }",
            json!({ "a": first["modLog"]["pageInfo"]["endCursor"] }),
            None,
        )
        .await;
    assert_eq!(next["modLog"]["nodes"][0]["kind"], "BAN");

    // An entry is a node like any other.
    let entry = app
        .ok(
            "query($id: ID!) { node(id: $id) { id ... on ModAction { kind reason } } }",
            json!({ "id": all["nodes"][8]["id"] }),
            None,
        )
        .await;
    assert_eq!(
        entry["node"],
        json!({ "id": all["nodes"][8]["id"], "kind": "REMOVE", "reason": "규칙 위반 rule 1" })
    );
}
