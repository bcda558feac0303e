//! Votes: idempotent, and exact under concurrency.

use super::*;

backend_tests!(
    votes_are_idempotent_and_exact_under_concurrency,
    each_mutation_of_a_document_answers_the_state_after_it,
);

/// Top-level mutations run in turn; each payload shows the state its own write left, not what an
/// earlier field of the same document loaded.
async fn each_mutation_of_a_document_answers_the_state_after_it(app: TestApp) {
    let author = app
        .sign_up("철수kim", "kim@example.com", "password-1")
        .await;
    let news = category(&app, "news").await;
    let id = post(&app, &author, &news, "투표", "please").await;
    let flips = app
        .ok(
            "mutation($id: ID!) { \
               a: votePost(input: { postId: $id }) { post { voteCount viewerHasVoted } } \
               b: unvotePost(input: { postId: $id }) { post { voteCount viewerHasVoted } } \
               c: votePost(input: { postId: $id }) { post { voteCount viewerHasVoted } } }",
            json!({ "id": id }),
            Some(&author.access),
        )
        .await;
    let states: Vec<_> = ["a", "b", "c"].iter().map(|f| &flips[f]["post"]).collect();
    assert_eq!(
        states,
        [
            &json!({ "voteCount": 1, "viewerHasVoted": true }),
            &json!({ "voteCount": 0, "viewerHasVoted": false }),
            &json!({ "voteCount": 1, "viewerHasVoted": true }),
        ],
        "{flips}"
    );
}

async fn votes_are_idempotent_and_exact_under_concurrency(app: TestApp) {
    let author = app
        .sign_up("popular", "popular@example.com", "password-1")
        .await;
    let news = category(&app, "news").await;
    let id = post(&app, &author, &news, "vote for me", "please").await;
    let voted = app
        .ok(VOTE, json!({ "id": id }), Some(&author.access))
        .await;
    assert_eq!(
        voted["votePost"]["post"],
        json!({ "voteCount": 1, "viewerHasVoted": true })
    );
    let twice = app
        .ok(VOTE, json!({ "id": id }), Some(&author.access))
        .await;
    assert_eq!(twice["votePost"]["post"]["voteCount"], 1, "idempotent");
    let unvoted = app
        .ok(UNVOTE, json!({ "id": id }), Some(&author.access))
        .await;
    assert_eq!(
        unvoted["unvotePost"]["post"],
        json!({ "voteCount": 0, "viewerHasVoted": false })
    );
    let again = app
        .ok(UNVOTE, json!({ "id": id }), Some(&author.access))
        .await;
    assert_eq!(again["unvotePost"]["post"]["voteCount"], 0);
    assert_eq!(
        code(&app.gql(VOTE, json!({ "id": id }), None).await),
        "UNAUTHENTICATED"
    );

    let mut voters = Vec::new();
    for n in 0..50 {
        voters.push(
            app.sign_up(
                &format!("voter{n}"),
                &format!("voter{n}@example.com"),
                "password-1",
            )
            .await,
        );
    }
    // Everyone votes twice at once: 100 concurrent requests, 50 votes.
    let votes = voters.iter().chain(voters.iter()).map(|v| {
        let (app, id) = (&app, &id);
        async move { app.ok(VOTE, json!({ "id": id }), Some(&v.access)).await }
    });
    join_all(votes).await;
    let read = app
        .ok(
            "query($id: ID!) { post(id: $id) { voteCount } }",
            json!({ "id": id }),
            None,
        )
        .await;
    assert_eq!(read["post"]["voteCount"], 50);
    let unvotes = voters.iter().take(20).map(|v| {
        let (app, id) = (&app, &id);
        async move { app.ok(UNVOTE, json!({ "id": id }), Some(&v.access)).await }
    });
    join_all(unvotes).await;
    let read = app
        .ok(
            "query($id: ID!) { post(id: $id) { voteCount viewerHasVoted } }",
            json!({ "id": id }),
            Some(&voters[30].access),
        )
        .await;
    assert_eq!(
        read["post"],
        json!({ "voteCount": 30, "viewerHasVoted": true })
    );
}
