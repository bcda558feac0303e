//! Whole answers of queries kept in the process: served only while nothing they were read from changed,
//! never to another viewer, never across variables. Runs on SQLite and, with
//! `--include-ignored` and TEST_* set, on MariaDB + Redis.

use crate::helpers::TestApp;
use serde_json::{Value, json};

backend_tests!(kept_answers_follow_every_write_and_serve_only_their_own_viewer);

const PAGE: &str = "query($c: ID) { posts(categoryId: $c, first: 5) { totalCount edges { node { title author { name } } } } }";

/// Sends the page as `token` (or anonymously): (body, kept?).
async fn page(app: &TestApp, category: &Value, token: Option<&str>) -> (Value, bool) {
    let answer = app
        .post(
            &json!({ "query": PAGE, "variables": { "c": category } }),
            token,
        )
        .await;
    let kept = answer.headers().get("x-answer-kept").is_some();
    (answer.json().await.unwrap(), kept)
}

fn first_title(body: &Value) -> String {
    body["data"]["posts"]["edges"][0]["node"]["title"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn kept_answers_follow_every_write_and_serve_only_their_own_viewer(app: TestApp) {
    let member = app
        .sign_up("keeper", "keeper@example.com", "password-1")
        .await;
    let category = json!(app.first_category().await);
    app.create_post(&member.access, category.as_str().unwrap(), "first", "body")
        .await;

    // Warm the cache, then the answer itself: by the third read it is served whole.
    let mut kept = false;
    let mut last = Value::Null;
    for _ in 0..4 {
        let (body, from_kept) = page(&app, &category, None).await;
        assert!(body.get("errors").is_none(), "{body:#}");
        if from_kept {
            assert_eq!(
                body["data"], last["data"],
                "a kept answer is the answer it replaced"
            );
            // With the cost numbers of this request: the same cost, spent again.
            let cost = |b: &Value| b["extensions"]["cost"]["requested"].as_u64();
            let left = |b: &Value| b["extensions"]["cost"]["remaining"].as_u64().unwrap();
            assert_eq!(cost(&body), cost(&last));
            assert!(left(&body) < left(&last), "{body:#}");
        }
        kept |= from_kept;
        last = body;
    }
    assert!(
        kept,
        "a warm anonymous page was never answered from the kept answers"
    );
    assert_eq!(first_title(&last), "first");

    // A write retires it: the next anonymous read is resolved again and shows the new post.
    app.create_post(&member.access, category.as_str().unwrap(), "second", "body")
        .await;
    let (body, from_kept) = page(&app, &category, None).await;
    assert!(!from_kept, "an answer was served after a write");
    assert_eq!(first_title(&body), "second");
    assert_eq!(
        body["data"]["posts"]["totalCount"],
        last["data"]["posts"]["totalCount"].as_i64().unwrap() + 1
    );

    // A signed-in viewer is never served the anonymous answer: theirs is kept under a key of its own.
    let (_, from_kept) = page(&app, &category, Some(&member.access)).await;
    assert!(
        !from_kept,
        "a signed-in viewer got the anonymous kept answer"
    );
    let mut theirs = false;
    for _ in 0..3 {
        theirs |= page(&app, &category, Some(&member.access)).await.1;
    }
    assert!(
        theirs,
        "a warm signed-in page was never answered from the kept answers"
    );

    // Other variables are another answer.
    for _ in 0..3 {
        page(&app, &category, None).await;
    }
    let (all, _) = page(&app, &Value::Null, None).await;
    assert!(all.get("errors").is_none(), "{all:#}");
    let (again, _) = page(&app, &category, None).await;
    assert_eq!(first_title(&again), "second");
    assert_ne!(all["data"]["posts"]["totalCount"], Value::Null);
}
