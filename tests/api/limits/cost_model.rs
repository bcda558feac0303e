//! What an operation costs is what schema.graphql's `@cost` and `@listSize` say (the IBM GraphQL Cost
//! Directives' field cost, docs/cost.md): each cost below is worked out by hand from those rules, and must be
//! what the server charges (`extensions.cost.requested`).

use serde_json::{Value, json};

use crate::helpers::{TestApp, code};

backend_tests!(operations_cost_what_the_schema_declares);

/// (operation, variables, cost, how the cost is made up).
fn operations(post: &str, category: &str) -> Vec<(&'static str, Value, u64, &'static str)> {
    vec![
        (
            "{ rateLimit { limit cost remaining used resetAt } }",
            json!({}),
            1,
            "rateLimit 1 (an object); its scalars weigh 0",
        ),
        (
            "{ posts(first: 5) { edges { node { id title author { name } } } } }",
            json!({}),
            12,
            "posts 1 + edges 1 + 5 edges × (node 1 + author 1): sizedFields edges",
        ),
        (
            "{ posts { totalCount pageInfo { hasNextPage endCursor } nodes { title } } }",
            json!({}),
            4,
            "posts 1 + totalCount 1 (@cost) + pageInfo 1 + nodes 1 + 20 (assumedSize) × 0",
        ),
        (
            "query($n: Int) { posts(last: $n) { nodes { author { name } category { name } } } }",
            json!({ "n": 10 }),
            22,
            "posts 1 + nodes 1 + 10 (the slicing argument, from a variable) × (author 1 + category 1)",
        ),
        (
            "{ categories { name children { name moderators { name } } } }",
            json!({}),
            401,
            "categories 1 + 20 × (children 0 (@cost) + 20 × moderators 1), all assumedSize 20",
        ),
        (
            "query($id: ID!) { post(id: $id) { title author { name } comments(first: 10) { totalCount edges { node { content author { name } replies(first: 2) { nodes { id } } } } } } }",
            json!({ "id": post }),
            45,
            "post 1 + author 1 + comments 1 + totalCount 1 + edges 1 + 10 × (node 1 + author 1 + replies 1 + nodes 1)",
        ),
        (
            "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Post { author { name } } ... on Comment { post { title } author { name } } } }",
            json!({ "ids": [post, category] }),
            201,
            "nodes 1 + 100 (assumedSize, whatever the ids) × the costliest type: Comment (post 1 + author 1)",
        ),
        (
            "query($id: ID!, $all: Boolean!) { post(id: $id) { revisions(last: 3) { version } comments @include(if: $all) { nodes { author { name } } } } }",
            json!({ "id": post, "all": false }),
            2,
            "post 1 + revisions 1 + 3 × 0; what @include leaves out costs nothing",
        ),
        (
            "query { ...Log } fragment Log on Query { modLog(first: 2) { nodes { target { ... on Post { author { name } } } moderator { name } } } }",
            json!({}),
            8,
            "modLog 1 + nodes 1 + 2 × (target 1 + Post's author 1 + moderator 1), through a fragment",
        ),
        (
            "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id category { name } } } }",
            json!({ "i": { "categoryId": category, "title": "costed", "content": "body" } }),
            4,
            "createPost 1 + its input object argument 1 + post 1 + category 1",
        ),
        (
            "{ __typename viewer { name } __schema { queryType { name } types { name fields { name } } } }",
            json!({}),
            5,
            "__typename 0 + viewer 1 + introspection: __schema 1 + queryType 1 + types 1 + fields 1, lists once",
        ),
    ]
}

async fn operations_cost_what_the_schema_declares(app: TestApp) {
    let member = app
        .sign_up("비용kim", "cost-model@example.com", "password-1")
        .await;
    let category = app.first_category().await;
    let post = app
        .create_post(&member.access, &category, "costed", "body")
        .await;
    for (query, variables, expected, why) in operations(&post, &category) {
        let body = app.gql(query, variables, Some(&member.access)).await;
        assert!(body.get("errors").is_none(), "{query}: {body:#}");
        assert_eq!(
            body["extensions"]["cost"]["requested"], expected,
            "{query}: {why}; {body:#}"
        );
    }

    // 1 + 1 + 100 × (comments 1 + nodes 1 + 100 × author 1) = 10 202, past max_complexity (10 000): refused
    // before it runs, the refusal naming the cost.
    let costly =
        "{ posts(first: 100) { nodes { comments(first: 100) { nodes { author { name } } } } } }";
    let (body, db, _) = app.gql_counted(costly, json!({}), None).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body:#}");
    assert_eq!(body["extensions"]["cost"]["requested"], 10_202, "{body:#}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("10202 points"), "{message}");
    assert_eq!(db, 0, "refused before the database");
}
