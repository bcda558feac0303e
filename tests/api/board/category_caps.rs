//! The lists whose size the SDL prices by a bound hold no more: at most 20 roots, 20 categories directly
//! below one, 20 moderators of one category (`@listSize(assumedSize: 20)` on `Query.categories`,
//! `Category.children`, `Category.moderators`). One more is a `CONFLICT` naming the field.

use super::*;

backend_tests!(
    a_category_holds_at_most_twenty_below_it,
    a_category_has_at_most_twenty_moderators,
);

const CREATE: &str =
    "mutation($i: CreateCategoryInput!) { createCategory(input: $i) { category { id } } }";

async fn create(app: &TestApp, admin: &Session, name: &str, parent: Option<&str>) -> Value {
    app.gql(
        CREATE,
        json!({ "i": { "name": name, "parentId": parent } }),
        Some(&admin.access),
    )
    .await
}

fn id(created: &Value) -> String {
    created["data"]["createCategory"]["category"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned()
}

async fn a_category_holds_at_most_twenty_below_it(app: TestApp) {
    let admin = app.admin().await;
    let full = id(&create(&app, &admin, "가득 full", None).await);
    for n in 0..20 {
        id(&create(&app, &admin, &format!("칸 {n}"), Some(&full)).await);
    }
    let refused = create(&app, &admin, "스물한째 21st", Some(&full)).await;
    assert_eq!(code(&refused), "CONFLICT", "{refused}");
    assert_eq!(field(&refused), "parentId");

    // Moving one in is refused the same way; moving one out makes room.
    let other = id(&create(&app, &admin, "다른 other", None).await);
    let moved = app
        .gql(
            "mutation($i: UpdateCategoryInput!) { updateCategory(input: $i) { category { id } } }",
            json!({ "i": { "categoryId": other, "parentId": full } }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(code(&moved), "CONFLICT", "{moved}");
    let listed = app
        .ok(
            "query($id: ID!) { category(id: $id) { children { id } } }",
            json!({ "id": full }),
            None,
        )
        .await;
    let children = listed["category"]["children"].as_array().unwrap();
    assert_eq!(children.len(), 20);
    let first = children[0]["id"].as_str().unwrap();
    app.ok(
        "mutation($i: UpdateCategoryInput!) { updateCategory(input: $i) { category { id } } }",
        json!({ "i": { "categoryId": first, "parentId": other } }),
        Some(&admin.access),
    )
    .await;
    id(&create(&app, &admin, "스물한째 21st", Some(&full)).await);

    // The top level likewise: 20 roots (2 seeded, `full` and `other` among them).
    let roots = app.ok("{ categories { id } }", json!({}), None).await["categories"]
        .as_array()
        .unwrap()
        .len();
    for n in roots..20 {
        id(&create(&app, &admin, &format!("뿌리 root {n}"), None).await);
    }
    let refused = create(&app, &admin, "뿌리 21", None).await;
    assert_eq!(code(&refused), "CONFLICT", "{refused}");
    assert_eq!(field(&refused), "parentId");
    let roots = app.ok("{ categories { id } }", json!({}), None).await;
    assert_eq!(roots["categories"].as_array().unwrap().len(), 20);
}

async fn a_category_has_at_most_twenty_moderators(app: TestApp) {
    let admin = app.admin().await;
    let category = app.first_category().await;
    let appoint = |user: String| {
        let (app, admin, category) = (&app, &admin, category.clone());
        async move {
            app.gql(
                "mutation($i: SetCategoryModeratorInput!) { setCategoryModerator(input: $i) { category { moderators { id } } } }",
                json!({ "i": { "categoryId": category, "userId": user, "moderator": true } }),
                Some(&admin.access),
            )
            .await
        }
    };
    let mut members = Vec::new();
    for n in 0..21 {
        let name = format!("모더{n}mod");
        let member = app
            .sign_up(&name, &format!("mod{n}@example.com"), "password-1")
            .await;
        members.push(member.user_id);
    }
    for member in &members[..20] {
        let appointed = appoint(member.clone()).await;
        assert!(appointed.get("errors").is_none(), "{appointed}");
    }
    let refused = appoint(members[20].clone()).await;
    assert_eq!(code(&refused), "CONFLICT", "{refused}");
    assert_eq!(field(&refused), "userId");
    // Appointing one already appointed changes nothing and is no error.
    let again = appoint(members[0].clone()).await;
    assert!(again.get("errors").is_none(), "{again}");
    let listed = app
        .ok(
            "query($id: ID!) { category(id: $id) { moderators { id } } }",
            json!({ "id": category }),
            None,
        )
        .await;
    assert_eq!(
        listed["category"]["moderators"].as_array().unwrap().len(),
        20
    );
}
