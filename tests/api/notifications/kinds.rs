//! Who is notified of what: replies, mentions (added ones only, at most 10, never oneself or a blocked
//! member), watchers of posts and categories, and moderation of one's content or account.

use super::*;

backend_tests!(
    a_thread_notifies_each_member_once_with_the_most_specific_kind,
    an_edit_notifies_only_the_mentions_it_added,
    category_watchers_hear_of_new_posts_below,
    moderation_tells_the_members_it_concerns,
);

async fn a_thread_notifies_each_member_once_with_the_most_specific_kind(app: TestApp) {
    let alice = member(&app, "앨리스_bob").await;
    let bob = member(&app, "철수kim").await;
    let carol = member(&app, "carol").await;
    let dave = member(&app, "dave").await;
    let eve = member(&app, "eve").await;
    let blocked = member(&app, "blocked_one").await;
    let admin = app.admin().await;
    app.ok(
        "mutation($i: BlockUserInput!) { blockUser(input: $i) { user { id } } }",
        json!({ "i": { "userId": blocked.user_id } }),
        Some(&admin.access),
    )
    .await;
    let category = app.first_category().await;
    let post = app
        .create_post(&alice.access, &category, "스레드", "첫 글")
        .await;
    app.ok(
        "mutation($id: ID!) { watchPost(input: { postId: $id, watching: true }) { post { id } } }",
        json!({ "id": post }),
        Some(&eve.access),
    )
    .await;

    // Bob answers the post: its author (who watches it too) gets one REPLY.
    let top = comment(&app, &bob, &post, None, "좋은 글이네요").await;
    assert_eq!(
        await_count(&app, &alice, 1).await,
        vec![("REPLY".to_owned(), top.clone())]
    );
    assert_eq!(
        await_count(&app, &eve, 1).await,
        vec![("WATCHED_POST_COMMENT".to_owned(), top.clone())]
    );

    // Carol replies to Bob, naming Alice (twice), Dave, herself, a blocked member and nobody.
    let text = "@철수kim 동의해요 @앨리스_bob @dave @carol @blocked_one @nobody_here @앨리스_BOB";
    let reply = comment(&app, &carol, &post, Some(&top), text).await;
    // Bob: answered and named — the mention wins; Alice: named beats watching; Dave: named.
    assert_eq!(
        await_count(&app, &bob, 1).await,
        vec![("MENTION".to_owned(), reply.clone())]
    );
    assert_eq!(
        await_count(&app, &alice, 2).await[0],
        ("MENTION".to_owned(), reply.clone())
    );
    assert_eq!(
        await_count(&app, &dave, 1).await,
        vec![("MENTION".to_owned(), reply.clone())]
    );
    assert_eq!(
        await_count(&app, &eve, 2).await[0],
        ("WATCHED_POST_COMMENT".to_owned(), reply.clone())
    );
    super::settle(&app).await;
    assert!(kinds(&app, &carol).await.is_empty(), "never oneself");
    let blocked_inbox = app.services.inbox.count(user_id(&blocked), false).await;
    assert_eq!(
        blocked_inbox.unwrap(),
        1,
        "a blocked member has their ban, never a mention"
    );
    // Bob commented, so he watches the post now; Carol's reply already told him. A new comment by Dave
    // reaches Alice, Bob, Carol (commenters watch) and Eve as watchers.
    let third = comment(&app, &dave, &post, None, "저도요").await;
    for (who, count) in [(&bob, 2), (&carol, 1)] {
        assert_eq!(
            await_count(&app, who, count).await[0],
            ("WATCHED_POST_COMMENT".to_owned(), third.clone())
        );
    }
    assert_eq!(
        await_count(&app, &alice, 3).await[0],
        ("REPLY".to_owned(), third.clone())
    );

    // Each notification names who wrote it and is the member's alone.
    let inbox = inbox(&app, &alice).await;
    assert_eq!(inbox["notifications"]["nodes"][0]["actor"]["name"], "dave");
    assert_eq!(inbox["notifications"]["nodes"][1]["actor"]["name"], "carol");
    let id = inbox["notifications"]["nodes"][0]["id"].clone();
    let node = "query($id: ID!) { node(id: $id) { id ... on Notification { kind } } }";
    let own = app.ok(node, json!({ "id": id }), Some(&alice.access)).await;
    assert_eq!(own["node"]["kind"], "REPLY");
    for other in [Some(&bob.access), Some(&admin.access), None] {
        let seen = app
            .ok(node, json!({ "id": id }), other.map(String::as_str))
            .await;
        assert_eq!(seen["node"], Value::Null, "someone else's notification");
    }
}

async fn an_edit_notifies_only_the_mentions_it_added(app: TestApp) {
    let author = member(&app, "writer").await;
    let kim = member(&app, "kim").await;
    let lee = member(&app, "lee").await;
    let park = member(&app, "park").await;
    let category = app.first_category().await;
    let post = app
        .create_post(&author.access, &category, "title", "hello @kim")
        .await;
    await_count(&app, &kim, 1).await;
    let edit = "mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { version } } }";
    app.ok(
        edit,
        json!({ "i": { "postId": post, "title": "title", "content": "hello @kim and @lee" } }),
        Some(&author.access),
    )
    .await;
    assert_eq!(await_count(&app, &lee, 1).await[0].0, "MENTION");
    // A mention inside code is no mention; one already there is not notified again.
    app.ok(
        edit,
        json!({ "i": { "postId": post, "title": "title", "content": "hello @kim and @lee `@park`" } }),
        Some(&author.access),
    )
    .await;
    // Comments too: an edit adding Park notifies Park.
    let id = comment(&app, &author, &post, None, "no one").await;
    app.ok(
        "mutation($i: UpdateCommentInput!) { updateComment(input: $i) { comment { id } } }",
        json!({ "i": { "commentId": id, "content": "now @park" } }),
        Some(&author.access),
    )
    .await;
    assert_eq!(
        await_count(&app, &park, 1).await,
        vec![("MENTION".to_owned(), id)]
    );
    // Taking a name out and putting it back does not tell them again.
    for text in ["hello", "hello @kim and @lee"] {
        app.ok(
            edit,
            json!({ "i": { "postId": post, "title": "title", "content": text } }),
            Some(&author.access),
        )
        .await;
    }
    super::settle(&app).await;
    assert_eq!(kinds(&app, &kim).await.len(), 1, "kim is told once");
    assert_eq!(kinds(&app, &lee).await.len(), 1, "lee is told once");

    // Names nobody has do not use up the ten.
    let unknown: String = (0..12).map(|i| format!("@nobody{i} ")).collect();
    app.create_post(
        &author.access,
        &category,
        "unknowns",
        &format!("{unknown} @park"),
    )
    .await;
    await_count(&app, &park, 2).await;

    // A flood of 200 names notifies the first 10 that exist.
    let mut named = Vec::new();
    for i in 0..12 {
        named.push(member(&app, &format!("flood{i:02}")).await);
    }
    let flood: String = (0..200).map(|i| format!("@flood{:02} ", i % 100)).collect();
    app.create_post(&author.access, &category, "flood", &flood)
        .await;
    for who in &named[..10] {
        await_count(&app, who, 1).await;
    }
    super::settle(&app).await;
    for who in &named[10..] {
        assert!(kinds(&app, who).await.is_empty(), "past the tenth mention");
    }
}

async fn category_watchers_hear_of_new_posts_below(app: TestApp) {
    let admin = app.admin().await;
    let watcher = member(&app, "watcher").await;
    let author = member(&app, "author").await;
    let create = "mutation($n: String!, $p: ID) { createCategory(input: { name: $n, parentId: $p }) { category { id } } }";
    let parent = app
        .ok(create, json!({ "n": "부모" }), Some(&admin.access))
        .await["createCategory"]["category"]["id"]
        .clone();
    let child = app
        .ok(
            create,
            json!({ "n": "자식", "p": parent }),
            Some(&admin.access),
        )
        .await["createCategory"]["category"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok(
        "mutation($id: ID!) { watchCategory(input: { categoryId: $id, watching: true }) { category { id } } }",
        json!({ "id": parent }),
        Some(&watcher.access),
    )
    .await;
    let post = app
        .create_post(&author.access, &child, "아래 글", "본문")
        .await;
    assert_eq!(
        await_count(&app, &watcher, 1).await,
        vec![("WATCHED_CATEGORY_POST".to_owned(), post)]
    );
    // The author of a post in a watched category is not told of their own post.
    app.ok(
        "mutation($id: ID!) { watchCategory(input: { categoryId: $id, watching: true }) { category { id } } }",
        json!({ "id": child }),
        Some(&author.access),
    )
    .await;
    app.create_post(&author.access, &child, "내 글", "본문")
        .await;
    await_count(&app, &watcher, 2).await;
    super::settle(&app).await;
    assert!(kinds(&app, &author).await.is_empty());
}

async fn moderation_tells_the_members_it_concerns(app: TestApp) {
    let admin = app.admin().await;
    let author = member(&app, "author").await;
    let reporter = member(&app, "reporter").await;
    let category = app.first_category().await;
    let post = app
        .create_post(&author.access, &category, "spam", "buy now")
        .await;
    let report = app
        .ok(
            "mutation($i: ReportContentInput!) { reportContent(input: $i) { report { id } } }",
            json!({ "i": { "subjectId": post, "reason": "SPAM" } }),
            Some(&reporter.access),
        )
        .await["reportContent"]["report"]["id"]
        .clone();
    app.ok(
        "mutation($i: ResolveReportInput!) { resolveReport(input: $i) { report { status } } }",
        json!({ "i": { "reportId": report, "action": "REMOVE_AND_BAN", "reason": "spam" } }),
        Some(&admin.access),
    )
    .await;
    // The reporter learns the outcome; the removed post is no longer theirs to see.
    let told = await_count(&app, &reporter, 1).await;
    assert_eq!(told[0].0, "REPORT_RESOLVED");
    let inbox_of_reporter = inbox(&app, &reporter).await;
    let first = &inbox_of_reporter["notifications"]["nodes"][0];
    assert_eq!(first["reportResolution"], "REMOVE_AND_BAN");
    assert_eq!(first["subject"], Value::Null);
    assert_eq!(first["actor"], Value::Null, "moderators are not named");
    // The author: their post removed (they still see it) and a ban from the category.
    let mut told = await_count(&app, &author, 2).await;
    told.sort();
    assert_eq!(
        told,
        vec![
            ("BANNED".to_owned(), category.clone()),
            ("CONTENT_REMOVED".to_owned(), post.clone()),
        ]
    );
    // A board-wide ban reaches the blocked member's inbox too (for when it ends).
    let until = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    app.ok(
        "mutation($i: BlockUserInput!) { blockUser(input: $i) { user { id } } }",
        json!({ "i": { "userId": reporter.user_id, "until": until } }),
        Some(&admin.access),
    )
    .await;
    super::settle(&app).await;
    assert_eq!(
        app.services
            .inbox
            .count(user_id(&reporter), false)
            .await
            .unwrap(),
        2,
        "the ban is in the inbox"
    );
}

fn user_id(who: &Session) -> board::domain::UserId {
    let id = async_graphql::ID(who.user_id.clone());
    board::graphql::ids::decode_user("userId", &id).unwrap()
}
