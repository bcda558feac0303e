//! Locks (no new comments, votes still count) and pins (at most five per category).

use super::*;
use crate::helpers::code;

backend_tests!(
    a_locked_post_refuses_comments_with_its_reason_but_counts_votes,
    a_category_holds_at_most_five_pinned_posts
);

const LOCK: &str = "mutation($id: ID!, $l: Boolean!, $r: String) { lockPost(input: { postId: $id, locked: $l, reason: $r }) { post { locked lockReason } } }";
const PIN: &str = "mutation($id: ID!, $p: Boolean!) { pinPost(input: { postId: $id, pinned: $p }) { post { id pinned } } }";
const PINNED: &str = "query($id: ID!) { category(id: $id) { pinnedPosts { id pinned } } }";

async fn a_locked_post_refuses_comments_with_its_reason_but_counts_votes(app: TestApp) {
    let w = world(&app).await;
    let post = app
        .create_post(&w.author.access, &w.tech, "뜨거운 글", "본문")
        .await;
    comment(&app, &w.member, &post, "첫 댓글").await;
    let locked = app
        .ok(
            LOCK,
            json!({ "id": post, "l": true, "r": "논쟁 과열 heated" }),
            Some(&w.moderator.access),
        )
        .await;
    assert_eq!(
        locked["lockPost"]["post"],
        json!({ "locked": true, "lockReason": "논쟁 과열 heated" })
    );
    let refused = app
        .gql(
            "mutation($i: CreateCommentInput!) { createComment(input: $i) { comment { id } } }",
            json!({ "i": { "postId": post, "content": "또 댓글" } }),
            Some(&w.author.access),
        )
        .await;
    assert_eq!(code(&refused), "FORBIDDEN", "{refused:#}");
    assert_eq!(
        refused["errors"][0]["extensions"]["reason"],
        "논쟁 과열 heated"
    );
    let voted = app
        .ok(
            "mutation($id: ID!) { votePost(input: { postId: $id }) { post { voteCount locked commentCount } } }",
            json!({ "id": post }),
            Some(&w.member.access),
        )
        .await;
    assert_eq!(
        voted["votePost"]["post"],
        json!({ "voteCount": 1, "locked": true, "commentCount": 1 })
    );
    // Unlocked: comments again.
    app.ok(
        LOCK,
        json!({ "id": post, "l": false }),
        Some(&w.admin.access),
    )
    .await;
    comment(&app, &w.author, &post, "다시 댓글").await;
    let entries = log(&app, Some(&w.tech), None).await;
    assert_eq!(super::entries(&entries, "LOCK", &post), 1);
    assert_eq!(super::entries(&entries, "UNLOCK", &post), 1);
}

async fn a_category_holds_at_most_five_pinned_posts(app: TestApp) {
    let w = world(&app).await;
    let mut posts = Vec::new();
    for n in 0..6 {
        posts.push(
            app.create_post(&w.author.access, &w.tech, &format!("공지 {n}"), "본문")
                .await,
        );
    }
    for post in &posts[..5] {
        let pinned = app
            .ok(
                PIN,
                json!({ "id": post, "p": true }),
                Some(&w.moderator.access),
            )
            .await;
        assert_eq!(pinned["pinPost"]["post"]["pinned"], true);
    }
    // Pinning a pinned post again is no new pin.
    app.ok(
        PIN,
        json!({ "id": posts[0], "p": true }),
        Some(&w.moderator.access),
    )
    .await;
    let sixth = app
        .gql(
            PIN,
            json!({ "id": posts[5], "p": true }),
            Some(&w.moderator.access),
        )
        .await;
    assert_eq!(code(&sixth), "CONFLICT", "{sixth:#}");
    assert!(
        sixth["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains('5'),
        "the message says the limit: {sixth:#}"
    );
    let listed = app.ok(PINNED, json!({ "id": w.tech }), None).await;
    let pinned: Vec<&str> = listed["category"]["pinnedPosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(pinned.len(), 5);
    assert!(!pinned.contains(&posts[5].as_str()));
    // Another category has places of its own; an unpin frees one.
    let elsewhere = app
        .create_post(&w.author.access, &w.life, "다른 곳", "본문")
        .await;
    app.ok(
        PIN,
        json!({ "id": elsewhere, "p": true }),
        Some(&w.admin.access),
    )
    .await;
    app.ok(
        PIN,
        json!({ "id": posts[0], "p": false }),
        Some(&w.moderator.access),
    )
    .await;
    app.ok(
        PIN,
        json!({ "id": posts[5], "p": true }),
        Some(&w.moderator.access),
    )
    .await;
    let listed = app.ok(PINNED, json!({ "id": w.tech }), None).await;
    assert_eq!(
        listed["category"]["pinnedPosts"][0]["id"],
        posts[5].as_str(),
        "newest pin first"
    );
    assert_eq!(
        listed["category"]["pinnedPosts"].as_array().unwrap().len(),
        5
    );
    // A removed pinned post is not shown to those who may not see it.
    remove(&app, &w.moderator, &posts[5], "spam").await;
    let listed = app.ok(PINNED, json!({ "id": w.tech }), None).await;
    assert_eq!(
        listed["category"]["pinnedPosts"].as_array().unwrap().len(),
        4
    );
    let listed = app
        .ok(PINNED, json!({ "id": w.tech }), Some(&w.moderator.access))
        .await;
    assert_eq!(
        listed["category"]["pinnedPosts"].as_array().unwrap().len(),
        5
    );
    // Members may not pin.
    let refused = app
        .gql(
            PIN,
            json!({ "id": posts[1], "p": false }),
            Some(&w.member.access),
        )
        .await;
    assert_eq!(code(&refused), "FORBIDDEN");
}
