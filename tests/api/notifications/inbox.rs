//! The inbox: pages newest first, unread-only, counts (the unread count costs no database round trip when
//! warm and is exact right after a change), marking read by id or all, and bad input.

use super::*;

backend_tests!(
    the_inbox_pages_counts_and_marks_read,
    marking_read_refuses_bad_input_and_others_ids,
);

const COUNT: &str = "{ viewer { unreadNotificationCount } }";

async fn unread(app: &TestApp, who: &Session) -> i64 {
    app.ok(COUNT, json!({}), Some(&who.access)).await["viewer"]["unreadNotificationCount"]
        .as_i64()
        .unwrap()
}

async fn the_inbox_pages_counts_and_marks_read(app: TestApp) {
    let author = member(&app, "author").await;
    let fan = member(&app, "fan").await;
    let category = app.first_category().await;
    let post = app
        .create_post(&author.access, &category, "글", "본문")
        .await;
    assert_eq!(unread(&app, &author).await, 0);
    for i in 0..5 {
        comment(&app, &fan, &post, None, &format!("댓글 {i}")).await;
    }
    await_count(&app, &author, 5).await;
    assert_eq!(
        unread(&app, &author).await,
        5,
        "the count follows the fan-out"
    );

    // Warm: the count is a cache entry.
    let (body, db, _) = app
        .gql_counted(COUNT, json!({}), Some(&author.access))
        .await;
    assert_eq!(body["data"]["viewer"]["unreadNotificationCount"], 5);
    assert_eq!(db, 0, "a warm unread count reads no database");

    // Pages newest first, with cursors.
    let page = "query($after: String) { viewer { notifications(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id read } } } }";
    let first = app.ok(page, json!({}), Some(&author.access)).await;
    let list = &first["viewer"]["notifications"];
    assert_eq!(list["totalCount"], 5);
    assert_eq!(list["pageInfo"]["hasNextPage"], true);
    let newest = list["nodes"][0]["id"].clone();
    let second = app
        .ok(
            page,
            json!({ "after": list["pageInfo"]["endCursor"] }),
            Some(&author.access),
        )
        .await;
    assert_eq!(
        second["viewer"]["notifications"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Marking one read: the answer and the next read agree at once.
    let marked = app
        .ok(
            MARK_READ,
            json!({ "i": { "ids": [newest.clone(), newest.clone()] } }),
            Some(&author.access),
        )
        .await;
    assert_eq!(marked["markNotificationsRead"]["unreadCount"], 4);
    assert_eq!(unread(&app, &author).await, 4);
    let unread_only = app
        .ok(INBOX, json!({ "unread": true }), Some(&author.access))
        .await;
    let nodes = unread_only["viewer"]["notifications"]["nodes"]
        .as_array()
        .unwrap();
    assert_eq!(nodes.len(), 4);
    assert!(
        nodes
            .iter()
            .all(|n| n["id"] != newest && n["read"] == false)
    );
    assert_eq!(unread_only["viewer"]["notifications"]["totalCount"], 4);

    // All of them; again is a no-op.
    for _ in 0..2 {
        let all = app
            .ok(
                MARK_READ,
                json!({ "i": { "all": true } }),
                Some(&author.access),
            )
            .await;
        assert_eq!(all["markNotificationsRead"]["unreadCount"], 0);
    }
    assert_eq!(unread(&app, &author).await, 0);
    let everything = inbox(&app, &author).await;
    assert_eq!(
        everything["notifications"]["totalCount"], 5,
        "read ones stay"
    );

    // Another member's inbox is not theirs to read.
    let other = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on User { notifications { totalCount } unreadNotificationCount } } }",
            json!({ "id": author.user_id }),
            Some(&fan.access),
        )
        .await;
    assert_eq!(other["node"]["notifications"], Value::Null);
    assert_eq!(other["node"]["unreadNotificationCount"], Value::Null);
}

async fn marking_read_refuses_bad_input_and_others_ids(app: TestApp) {
    let author = member(&app, "author").await;
    let fan = member(&app, "fan").await;
    let category = app.first_category().await;
    let post = app
        .create_post(&author.access, &category, "글", "본문")
        .await;
    comment(&app, &fan, &post, None, "댓글").await;
    let theirs = await_count(&app, &author, 1).await;
    assert_eq!(theirs.len(), 1);
    let id = inbox(&app, &author).await["notifications"]["nodes"][0]["id"].clone();

    // Someone else's id changes nothing.
    let foreign = app
        .ok(
            MARK_READ,
            json!({ "i": { "ids": [id] } }),
            Some(&fan.access),
        )
        .await;
    assert_eq!(foreign["markNotificationsRead"]["unreadCount"], 0);
    assert_eq!(
        inbox(&app, &author).await["unreadNotificationCount"],
        1,
        "untouched"
    );

    for (input, expected_field) in [
        (json!({}), "input"),
        (json!({ "all": false }), "input"),
        (json!({ "ids": [id], "all": true }), "input"),
        (json!({ "ids": ["bm9wZQ=="] }), "ids"),
        (json!({ "ids": [author.user_id] }), "ids"),
    ] {
        let refused = app
            .gql(MARK_READ, json!({ "i": input }), Some(&author.access))
            .await;
        assert_eq!(code(&refused), "BAD_USER_INPUT", "{input}");
        assert_eq!(field(&refused), expected_field, "{input}");
    }
    let many: Vec<Value> = (0..101).map(|_| id.clone()).collect();
    let refused = app
        .gql(
            MARK_READ,
            json!({ "i": { "ids": many } }),
            Some(&author.access),
        )
        .await;
    assert_eq!(code(&refused), "BAD_USER_INPUT");
    let anonymous = app
        .gql(MARK_READ, json!({ "i": { "all": true } }), None)
        .await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");
}
