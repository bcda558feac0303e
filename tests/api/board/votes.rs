//! Votes: idempotent, and exact under concurrency.

use super::*;

backend_tests!(
    votes_are_idempotent_and_exact_under_concurrency,
    each_mutation_of_a_document_answers_the_state_after_it,
    a_batch_with_writes_runs_in_order_and_each_operation_reads_after_the_ones_before,
    an_operation_after_a_resignation_in_the_same_batch_is_refused,
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

/// A batch (a JSON array of operations) with a write runs its operations in order, one after another: a
/// later vote taken back wins, and every payload and query shows the state the operations before it left.
async fn a_batch_with_writes_runs_in_order_and_each_operation_reads_after_the_ones_before(
    app: TestApp,
) {
    let author = app
        .sign_up("영희lee", "lee@example.com", "password-1")
        .await;
    let news = category(&app, "news").await;
    let id = post(&app, &author, &news, "순서", "in order").await;
    let read = json!({
        "query": "query($id: ID!) { post(id: $id) { voteCount viewerHasVoted } }",
        "variables": { "id": id },
    });
    let flip = |field: &str| {
        json!({
            "query": format!(
                "mutation($id: ID!) {{ {field}(input: {{ postId: $id }}) {{ post {{ voteCount viewerHasVoted }} }} }}"
            ),
            "variables": { "id": id },
        })
    };
    let batch = json!([
        read,
        flip("votePost"),
        read,
        flip("unvotePost"),
        read,
        flip("votePost"),
        flip("unvotePost")
    ]);
    let answers = app.batch(&batch, Some(&author.access)).await;
    let states: Vec<Value> = answers
        .iter()
        .map(|r| {
            let data = &r["data"];
            data.get("post")
                .or_else(|| data.get("votePost").map(|p| &p["post"]))
                .or_else(|| data.get("unvotePost").map(|p| &p["post"]))
                .cloned()
                .unwrap_or(Value::Null)
        })
        .collect();
    let state = |votes: i64| json!({ "voteCount": votes, "viewerHasVoted": votes == 1 });
    assert_eq!(
        states,
        [
            state(0),
            state(1),
            state(1),
            state(0),
            state(0),
            state(1),
            state(0)
        ],
        "{answers:?}"
    );
    let after = app
        .ok(
            read["query"].as_str().unwrap(),
            json!({ "id": id }),
            Some(&author.access),
        )
        .await;
    assert_eq!(
        after["post"],
        state(0),
        "the last operation of the batch wins"
    );
}

/// The operations of a batch after a resignation are refused as the next request would be: the account
/// that resigned neither votes nor reads itself as it was.
async fn an_operation_after_a_resignation_in_the_same_batch_is_refused(app: TestApp) {
    let author = app
        .sign_up("떠나는kim", "leaving@example.com", "password-1")
        .await;
    let news = category(&app, "news").await;
    let id = post(&app, &author, &news, "마지막", "last").await;
    let batch = json!([
        {
            "query": "mutation { resign(input: { password: \"password-1\" }) { user { id } } }",
        },
        {
            "query": "mutation($id: ID!) { votePost(input: { postId: $id }) { post { voteCount } } }",
            "variables": { "id": id },
        },
        { "query": "{ viewer { id } }" },
    ]);
    let answers = app.batch(&batch, Some(&author.access)).await;
    assert!(
        answers[0]["data"]["resign"]["user"]["id"].is_string(),
        "{answers:?}"
    );
    for refused in &answers[1..] {
        assert_eq!(code(refused), "UNAUTHENTICATED", "{answers:?}");
    }
    let read = app
        .ok(
            "query($id: ID!) { post(id: $id) { voteCount } }",
            json!({ "id": id }),
            None,
        )
        .await;
    assert_eq!(
        read["post"]["voteCount"], 0,
        "no vote after the resignation"
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
