//! Moderators acting at once: two removals of one post are one removal (one log entry); six pins racing
//! for five places leave five pinned.

use futures::future::join_all;
use tokio::sync::Barrier;

use super::*;
use crate::helpers::tally;

backend_tests!(
    concurrent_removals_are_one_removal,
    concurrent_pins_never_exceed_five
);

async fn concurrent_removals_are_one_removal(app: TestApp) {
    let w = world(&app).await;
    let second = member(&app, "mod2").await;
    set_moderator(&app, &w.admin, &w.tech, &second, true).await;
    let post = app
        .create_post(&w.author.access, &w.tech, "동시 글", "본문")
        .await;
    let barrier = Barrier::new(2);
    let answers = join_all([&w.moderator, &second].into_iter().map(|who| {
        let (app, barrier, post) = (&app, &barrier, &post);
        async move {
            barrier.wait().await;
            remove(app, who, post, "동시 삭제").await
        }
    }))
    .await;
    assert_eq!(tally(&answers).get("ok"), Some(&2), "{answers:#?}");
    let entries = log(&app, Some(&w.tech), Some(&w.admin)).await;
    assert_eq!(super::entries(&entries, "REMOVE", &post), 1, "{entries:#}");
    // The counters moved once.
    let list = app
        .ok(
            "query($c: ID) { posts(categoryId: $c) { totalCount } }",
            json!({ "c": w.tech }),
            None,
        )
        .await;
    assert_eq!(list["posts"]["totalCount"], 0);
}

async fn concurrent_pins_never_exceed_five(app: TestApp) {
    let w = world(&app).await;
    let mut posts = Vec::new();
    for n in 0..6 {
        posts.push(
            app.create_post(&w.author.access, &w.tech, &format!("핀 {n}"), "본문")
                .await,
        );
    }
    let barrier = Barrier::new(posts.len());
    let answers = join_all(posts.iter().map(|post| {
        let (app, barrier, token) = (&app, &barrier, &w.moderator.access);
        async move {
            barrier.wait().await;
            app.gql(
                "mutation($id: ID!) { pinPost(input: { postId: $id, pinned: true }) { post { pinned } } }",
                json!({ "id": post }),
                Some(token),
            )
            .await
        }
    }))
    .await;
    let outcomes = tally(&answers);
    assert_eq!(outcomes.get("ok"), Some(&5), "{answers:#?}");
    assert_eq!(outcomes.get("CONFLICT"), Some(&1), "{answers:#?}");
    let listed = app
        .ok(
            "query($id: ID!) { category(id: $id) { pinnedPosts { id } } }",
            json!({ "id": w.tech }),
            None,
        )
        .await;
    assert_eq!(
        listed["category"]["pinnedPosts"].as_array().unwrap().len(),
        5
    );
}
