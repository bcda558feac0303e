//! Watching posts and categories: authors and commenters watch automatically, an explicit unwatch outlasts
//! later comments, writes are idempotent and the member's own; a watched category can still be deleted.

use super::*;

backend_tests!(
    authors_and_commenters_watch_and_an_unwatch_sticks,
    categories_are_watched_until_unwatched_or_deleted,
);

const WATCH: &str = "mutation($id: ID!, $w: Boolean!) { watchPost(input: { postId: $id, watching: $w }) { post { id viewerIsWatching } } }";
const WATCHING: &str = "query($id: ID!) { post(id: $id) { viewerIsWatching } }";
const WATCH_CATEGORY: &str = "mutation($id: ID!, $w: Boolean!) { watchCategory(input: { categoryId: $id, watching: $w }) { category { id viewerIsWatching } } }";
const CATEGORY_WATCHED: &str = "query($id: ID!) { category(id: $id) { viewerIsWatching } }";

async fn watching(app: &TestApp, who: Option<&Session>, post: &str) -> Value {
    app.ok(
        WATCHING,
        json!({ "id": post }),
        who.map(|s| s.access.as_str()),
    )
    .await["post"]["viewerIsWatching"]
        .clone()
}

async fn watch(app: &TestApp, who: &Session, post: &str, on: bool) -> Value {
    app.ok(WATCH, json!({ "id": post, "w": on }), Some(&who.access))
        .await["watchPost"]["post"]["viewerIsWatching"]
        .clone()
}

async fn authors_and_commenters_watch_and_an_unwatch_sticks(app: TestApp) {
    let author = app
        .sign_up("글쓴이kim", "author@example.com", "password-1")
        .await;
    let commenter = app
        .sign_up("철수kim", "commenter@example.com", "password-1")
        .await;
    let reader = app
        .sign_up("reader", "reader@example.com", "password-1")
        .await;
    let tech = category(&app, "tech").await;
    let id = post(&app, &author, &tech, "지켜볼 글", "본문").await;

    assert_eq!(watching(&app, Some(&author), &id).await, true, "the author");
    assert_eq!(watching(&app, Some(&commenter), &id).await, false);
    assert_eq!(watching(&app, None, &id).await, false, "the anonymous");

    comment(&app, &commenter, &id, "첫 댓글").await;
    assert_eq!(
        watching(&app, Some(&commenter), &id).await,
        true,
        "a commenter"
    );

    // An explicit unwatch, twice (idempotent), outlasts the commenter's next comment.
    assert_eq!(watch(&app, &commenter, &id, false).await, false);
    assert_eq!(watch(&app, &commenter, &id, false).await, false);
    comment(&app, &commenter, &id, "두 번째 댓글").await;
    assert_eq!(
        watching(&app, Some(&commenter), &id).await,
        false,
        "the unwatch sticks"
    );
    // The same for the author.
    assert_eq!(watch(&app, &author, &id, false).await, false);
    comment(&app, &author, &id, "답글").await;
    assert_eq!(watching(&app, Some(&author), &id).await, false);

    // Watching again, explicitly, and without writing anything.
    assert_eq!(watch(&app, &commenter, &id, true).await, true);
    assert_eq!(watch(&app, &commenter, &id, true).await, true);
    assert_eq!(watch(&app, &reader, &id, true).await, true);
    assert_eq!(watching(&app, Some(&reader), &id).await, true);

    // The anonymous are refused; bad ids name the field.
    let refused = app.gql(WATCH, json!({ "id": id, "w": true }), None).await;
    assert_eq!(code(&refused), "UNAUTHENTICATED");
    let bad = app
        .gql(
            WATCH,
            json!({ "id": tech, "w": true }),
            Some(&reader.access),
        )
        .await;
    assert_eq!((code(&bad), field(&bad)), ("BAD_USER_INPUT", "postId"));
}

async fn categories_are_watched_until_unwatched_or_deleted(app: TestApp) {
    let member = app
        .sign_up("철수kim", "member@example.com", "password-1")
        .await;
    let other = app
        .sign_up("other", "other@example.com", "password-1")
        .await;
    let admin = app.admin().await;
    let news = category(&app, "news").await;
    let watched = |who: Option<&Session>| {
        let (app, news) = (&app, &news);
        let token = who.map(|s| s.access.clone());
        async move {
            app.ok(CATEGORY_WATCHED, json!({ "id": news }), token.as_deref())
                .await["category"]["viewerIsWatching"]
                .clone()
        }
    };
    assert_eq!(watched(Some(&member)).await, false);
    for _ in 0..2 {
        let data = app
            .ok(
                WATCH_CATEGORY,
                json!({ "id": news, "w": true }),
                Some(&member.access),
            )
            .await;
        assert_eq!(data["watchCategory"]["category"]["viewerIsWatching"], true);
    }
    assert_eq!(watched(Some(&member)).await, true);
    assert_eq!(
        watched(Some(&other)).await,
        false,
        "a watch is the member's own"
    );
    assert_eq!(watched(None).await, false);
    // Posting into a category does not make its author watch the category.
    post(&app, &other, &news, "소식", "x").await;
    assert_eq!(watched(Some(&other)).await, false);

    for _ in 0..2 {
        let data = app
            .ok(
                WATCH_CATEGORY,
                json!({ "id": news, "w": false }),
                Some(&member.access),
            )
            .await;
        assert_eq!(data["watchCategory"]["category"]["viewerIsWatching"], false);
    }
    assert_eq!(watched(Some(&member)).await, false);
    let refused = app
        .gql(WATCH_CATEGORY, json!({ "id": news, "w": true }), None)
        .await;
    assert_eq!(code(&refused), "UNAUTHENTICATED");

    // A watched category can still be deleted; afterwards it is unknown.
    let created = app
        .ok(
            "mutation { createCategory(input: { name: \"임시 temp\" }) { category { id } } }",
            json!({}),
            Some(&admin.access),
        )
        .await;
    let temp = created["createCategory"]["category"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok(
        WATCH_CATEGORY,
        json!({ "id": temp, "w": true }),
        Some(&member.access),
    )
    .await;
    app.ok(
        "mutation($id: ID!) { deleteCategory(input: { categoryId: $id }) { deletedId } }",
        json!({ "id": temp }),
        Some(&admin.access),
    )
    .await;
    let gone = app
        .gql(
            WATCH_CATEGORY,
            json!({ "id": temp, "w": true }),
            Some(&member.access),
        )
        .await;
    assert_eq!(code(&gone), "NOT_FOUND");
}
