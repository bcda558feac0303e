//! Comments: versions, pages and counts.

use tokio::sync::Barrier;

use crate::helpers::tally;

use super::*;

backend_tests!(comments_have_versions_pages_and_counts);

async fn comments_have_versions_pages_and_counts(app: TestApp) {
    let author = app.sign_up("op", "op@example.com", "password-1").await;
    let commenter = app
        .sign_up("chatty", "chatty@example.com", "password-1")
        .await;
    let life = category(&app, "life").await;
    let post_id = post(&app, &author, &life, "thread", "discuss").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(comment(&app, &commenter, &post_id, &format!("댓글 {n} 😀")).await);
    }
    let update = "mutation($i: UpdateCommentInput!) { updateComment(input: $i) { comment { version content revisions { version content } } } }";
    let edited = app
        .ok(
            update,
            json!({ "i": { "commentId": ids[0], "content": "고침" } }),
            Some(&commenter.access),
        )
        .await;
    assert_eq!(edited["updateComment"]["comment"]["version"], 1);
    assert_eq!(
        edited["updateComment"]["comment"]["revisions"][0]["content"],
        "댓글 0 😀"
    );
    let not_author = app
        .gql(
            update,
            json!({ "i": { "commentId": ids[0], "content": "x" } }),
            Some(&author.access),
        )
        .await;
    assert_eq!(code(&not_author), "FORBIDDEN");

    let delete = "mutation($id: ID!) { deleteComment(input: { commentId: $id }) { deletedId } }";
    app.ok(delete, json!({ "id": ids[1] }), Some(&commenter.access))
        .await;

    let q = "query($id: ID!, $a: String) { post(id: $id) { commentCount comments(first: 2, after: $a) { totalCount \
             edges { cursor node { id content author { name } post { id } } } pageInfo { hasNextPage endCursor } } } }";
    let first = app.ok(q, json!({ "id": post_id }), None).await;
    let post = &first["post"];
    assert_eq!(post["commentCount"], 4);
    assert_eq!(post["comments"]["totalCount"], 4);
    let page: Vec<&str> = post["comments"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        page,
        [ids[0].as_str(), ids[2].as_str()],
        "oldest first, deleted skipped"
    );
    assert_eq!(post["comments"]["edges"][0]["node"]["content"], "고침");
    assert_eq!(
        post["comments"]["edges"][0]["node"]["post"]["id"],
        post_id.as_str()
    );
    let next = app
        .ok(
            q,
            json!({ "id": post_id, "a": post["comments"]["pageInfo"]["endCursor"] }),
            None,
        )
        .await;
    let page: Vec<&str> = next["post"]["comments"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(page, [ids[3].as_str(), ids[4].as_str()]);
    assert_eq!(next["post"]["comments"]["pageInfo"]["hasNextPage"], false);

    let last = app
        .ok("query($id: ID!) { post(id: $id) { comments(last: 1) { nodes { id } pageInfo { hasPreviousPage } } } }", json!({ "id": post_id }), None)
        .await;
    assert_eq!(last["post"]["comments"]["nodes"][0]["id"], ids[4].as_str());
    assert_eq!(
        last["post"]["comments"]["pageInfo"]["hasPreviousPage"],
        true
    );

    let by_user = app
        .ok(
            "{ user(name: \"chatty\") { comments(first: 10) { totalCount nodes { id } } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(by_user["user"]["comments"]["totalCount"], 4);
    assert_eq!(
        by_user["user"]["comments"]["nodes"][0]["id"],
        ids[4].as_str(),
        "newest first"
    );

    let deleted = app
        .ok(
            "query($id: ID!) { comment(id: $id) { id } }",
            json!({ "id": ids[1] }),
            None,
        )
        .await;
    assert!(deleted["comment"].is_null());
    let vote = "mutation($id: ID!) { voteComment(input: { commentId: $id }) { comment { voteCount viewerHasVoted } } }";
    let voted = app
        .ok(vote, json!({ "id": ids[2] }), Some(&author.access))
        .await;
    assert_eq!(
        voted["voteComment"]["comment"],
        json!({ "voteCount": 1, "viewerHasVoted": true })
    );
    let again = app
        .ok(vote, json!({ "id": ids[2] }), Some(&author.access))
        .await;
    assert_eq!(again["voteComment"]["comment"]["voteCount"], 1);
    let unvote = "mutation($id: ID!) { unvoteComment(input: { commentId: $id }) { comment { voteCount viewerHasVoted } } }";
    let unvoted = app
        .ok(unvote, json!({ "id": ids[2] }), Some(&author.access))
        .await;
    assert_eq!(
        unvoted["unvoteComment"]["comment"],
        json!({ "voteCount": 0, "viewerHasVoted": false })
    );
}

backend_tests!(concurrent_deletes_answer_once_and_count_once);

/// Eight deletes of one comment, then of one post, sent at once by their author: one is answered with
/// the id, the others as a delete sent after it would be (`NOT_FOUND`), and each count drops by one.
async fn concurrent_deletes_answer_once_and_count_once(app: TestApp) {
    let author = app
        .sign_up("민지kim", "minji@example.com", "password-1")
        .await;
    let life = category(&app, "life").await;
    let post_id = post(&app, &author, &life, "지울 글", "곧 지움").await;
    comment(&app, &author, &post_id, "남는 댓글").await;
    let doomed = comment(&app, &author, &post_id, "지울 댓글").await;
    let barrier = Barrier::new(8);
    let race = |query: &'static str, id: String| {
        let (app, barrier, token) = (&app, &barrier, author.access.clone());
        join_all((0..8).map(move |_| {
            let (id, token) = (id.clone(), token.clone());
            async move {
                barrier.wait().await;
                app.gql(query, json!({ "id": id }), Some(&token)).await
            }
        }))
    };
    let delete_comment =
        "mutation($id: ID!) { deleteComment(input: { commentId: $id }) { deletedId } }";
    let counts = tally(&race(delete_comment, doomed.clone()).await);
    assert_eq!(counts.get("ok"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("NOT_FOUND"), Some(&7), "{counts:?}");
    let count =
        "query($id: ID!) { post(id: $id) { commentCount } viewer { comments { totalCount } } }";
    let shown = app
        .ok(count, json!({ "id": post_id }), Some(&author.access))
        .await;
    assert_eq!(shown["post"]["commentCount"], 1, "{shown}");
    assert_eq!(shown["viewer"]["comments"]["totalCount"], 1, "{shown}");

    let delete_post = "mutation($id: ID!) { deletePost(input: { postId: $id }) { deletedId } }";
    let counts = tally(&race(delete_post, post_id.clone()).await);
    assert_eq!(counts.get("ok"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("NOT_FOUND"), Some(&7), "{counts:?}");
    let shown = app
        .ok(
            "{ viewer { posts { totalCount } } }",
            json!({}),
            Some(&author.access),
        )
        .await;
    assert_eq!(shown["viewer"]["posts"]["totalCount"], 0, "{shown}");
}
