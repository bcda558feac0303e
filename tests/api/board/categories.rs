//! Categories: a tree that admins manage, and that concurrent moves and creations keep a tree.

use tokio::sync::Barrier;

use super::*;
use crate::helpers::{has_errors, tally};

backend_tests!(
    categories_form_a_tree_that_admins_manage,
    opposite_concurrent_moves_never_make_a_cycle,
    concurrent_root_creations_make_one_root,
);

const CREATE_CATEGORY: &str =
    "mutation($i: CreateCategoryInput!) { createCategory(input: $i) { category { id } } }";
const UPDATE_CATEGORY: &str =
    "mutation($i: UpdateCategoryInput!) { updateCategory(input: $i) { category { id } } }";

async fn categories_form_a_tree_that_admins_manage(app: TestApp) {
    let roots = app
        .ok(
            "{ categories { name tier parent { id } children { name tier parent { name } } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        roots["categories"],
        json!([
            { "name": "qna", "tier": 1, "parent": null, "children": [
                { "name": "tech", "tier": 2, "parent": { "name": "qna" } },
                { "name": "career", "tier": 2, "parent": { "name": "qna" } } ] },
            { "name": "community", "tier": 1, "parent": null, "children": [
                { "name": "life", "tier": 2, "parent": { "name": "community" } },
                { "name": "news", "tier": 2, "parent": { "name": "community" } } ] },
        ])
    );
    let admin = app.admin().await;
    let member = app
        .sign_up("member", "member@example.com", "password-1")
        .await;
    let create = "mutation($i: CreateCategoryInput!) { createCategory(input: $i) { category { id name tier parent { name } } } }";
    let tech = category(&app, "tech").await;

    let forbidden = app
        .gql(
            create,
            json!({ "i": { "name": "x" } }),
            Some(&member.access),
        )
        .await;
    assert_eq!(code(&forbidden), "FORBIDDEN");

    let rust = app
        .ok(
            create,
            json!({ "i": { "name": "러스트 🦀", "parentId": tech } }),
            Some(&admin.access),
        )
        .await;
    let rust = &rust["createCategory"]["category"];
    assert_eq!(rust["tier"], 3, "tier follows the parent");
    assert_eq!(rust["name"], "러스트 🦀");
    let rust_id = rust["id"].as_str().unwrap().to_owned();
    let dup = app
        .gql(
            create,
            json!({ "i": { "name": "러스트 🦀", "parentId": tech } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(code(&dup), "CONFLICT");
    let other_emoji = app
        .gql(
            create,
            json!({ "i": { "name": "러스트 🐍", "parentId": tech } }),
            Some(&admin.access),
        )
        .await;
    assert!(
        other_emoji.get("errors").is_none(),
        "distinct emoji are distinct names: {other_emoji:#}"
    );
    let root_dup = app
        .gql(
            create,
            json!({ "i": { "name": "qna" } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(code(&root_dup), "CONFLICT");

    // Moving a subtree re-derives tiers; moving below itself is refused.
    let update = "mutation($i: UpdateCategoryInput!) { updateCategory(input: $i) { category { name tier parent { name } } } }";
    let career = category(&app, "career").await;
    let moved = app
        .ok(
            update,
            json!({ "i": { "categoryId": tech, "parentId": null } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(moved["updateCategory"]["category"]["tier"], 1);
    let child = app
        .ok(
            "query($id: ID!) { category(id: $id) { tier } }",
            json!({ "id": rust_id }),
            None,
        )
        .await;
    assert_eq!(child["category"]["tier"], 2, "descendants follow a move");
    let cycle = app
        .gql(
            update,
            json!({ "i": { "categoryId": tech, "parentId": rust_id } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(code(&cycle), "BAD_USER_INPUT");
    assert_eq!(field(&cycle), "parentId");
    let renamed = app
        .ok(
            update,
            json!({ "i": { "categoryId": career, "name": "jobs" } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(renamed["updateCategory"]["category"]["name"], "jobs");
    assert_eq!(
        renamed["updateCategory"]["category"]["parent"]["name"], "qna",
        "an absent parentId keeps the parent"
    );

    // Deleting is refused while children or posts remain.
    let delete = "mutation($id: ID!) { deleteCategory(input: { categoryId: $id }) { deletedId } }";
    let has_children = app
        .gql(delete, json!({ "id": tech }), Some(&admin.access))
        .await;
    assert_eq!(code(&has_children), "CONFLICT");
    post(&app, &member, &career, "hello", "world").await;
    let has_posts = app
        .gql(delete, json!({ "id": career }), Some(&admin.access))
        .await;
    assert_eq!(code(&has_posts), "CONFLICT");
    let gone = app
        .ok(delete, json!({ "id": rust_id }), Some(&admin.access))
        .await;
    assert_eq!(gone["deleteCategory"]["deletedId"], rust_id.as_str());
    let missing = app
        .ok(
            "query($id: ID!) { category(id: $id) { id } }",
            json!({ "id": rust_id }),
            None,
        )
        .await;
    assert!(missing["category"].is_null());
}

/// Row 1: `X → under Y` and `Y → under X` at the same moment. Before, both could pass a check made against
/// the cached tree, leaving a cycle that sent `posts(categoryId:)` into an endless walk.
async fn opposite_concurrent_moves_never_make_a_cycle(app: TestApp) {
    let admin = app.admin().await;
    let mut both = 0;
    for round in 0..6 {
        let mut ids = Vec::new();
        for side in ["x", "y"] {
            let data = app
                .ok(
                    CREATE_CATEGORY,
                    json!({ "i": { "name": format!("{side}{round}") } }),
                    Some(&admin.access),
                )
                .await;
            ids.push(
                data["createCategory"]["category"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        let barrier = Barrier::new(2);
        let moves = [(&ids[0], &ids[1]), (&ids[1], &ids[0])];
        let answers = join_all(moves.iter().map(|(id, parent)| {
            let barrier = &barrier;
            let admin = &admin;
            let app = &app;
            async move {
                barrier.wait().await;
                app.gql(
                    UPDATE_CATEGORY,
                    json!({ "i": { "categoryId": id, "parentId": parent } }),
                    Some(&admin.access),
                )
                .await
            }
        }))
        .await;
        let accepted = answers.iter().filter(|a| !has_errors(a)).count();
        if accepted == 2 {
            both += 1;
        }
        for refused in answers.iter().filter(|a| has_errors(a)) {
            assert_eq!(code(refused), "BAD_USER_INPUT", "{refused:#}");
        }
        // The walk below X ends: the tree is still a tree.
        for id in &ids {
            app.ok(
                "query($c: ID!) { posts(categoryId: $c, first: 1) { totalCount } }",
                json!({ "c": id }),
                None,
            )
            .await;
        }
    }
    eprintln!("6 rounds of opposite concurrent moves: both accepted in {both}");
    assert_eq!(both, 0, "two opposite moves were both accepted");
}

/// Row 12: ten concurrent `createCategory(name: "dup")` at the root make one root.
async fn concurrent_root_creations_make_one_root(app: TestApp) {
    let admin = app.admin().await;
    let barrier = Barrier::new(10);
    let answers = join_all((0..10).map(|_| async {
        barrier.wait().await;
        app.gql(
            CREATE_CATEGORY,
            json!({ "i": { "name": "dup" } }),
            Some(&admin.access),
        )
        .await
    }))
    .await;
    let counts = tally(&answers);
    eprintln!("10 concurrent root creations: {counts:?}");
    assert_eq!(counts.get("ok"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("CONFLICT"), Some(&9), "{counts:?}");
    let roots = app.ok("{ categories { name } }", json!({}), None).await;
    let dups = roots["categories"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "dup")
        .count();
    assert_eq!(dups, 1);
}
