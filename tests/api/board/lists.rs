//! Lists of posts: order, pages, filters and search.

use super::*;

backend_tests!(lists_order_page_filter_and_search);

async fn lists_order_page_filter_and_search(app: TestApp) {
    let alice = app
        .sign_up("alice", "alice@example.com", "password-1")
        .await;
    let bob = app.sign_up("bob", "bob@example.com", "password-1").await;
    let (tech, career, life, qna) = (
        category(&app, "tech").await,
        category(&app, "career").await,
        category(&app, "life").await,
        category(&app, "qna").await,
    );
    let p1 = post(&app, &alice, &tech, "Rust tips", "borrowing 101").await;
    let p2 = post(&app, &bob, &career, "50% off_sale", "literal wildcards").await;
    let p3 = post(&app, &alice, &life, "일상", "오늘의 RUST 이야기 🦀").await;
    let p4 = post(&app, &bob, &tech, "500 offers", "no percent here").await;
    for voter in [&alice, &bob] {
        app.ok(VOTE, json!({ "id": p3 }), Some(&voter.access)).await;
    }
    app.ok(VOTE, json!({ "id": p1 }), Some(&bob.access)).await;

    let list = |args: &str| {
        format!(
            "{{ posts({args}) {{ totalCount nodes {{ id }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}"
        )
    };
    let ids = |data: &Value| -> Vec<String> {
        data["posts"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let newest = app.ok(&list("first: 20"), json!({}), None).await;
    assert_eq!(
        ids(&newest),
        [p4.as_str(), p3.as_str(), p2.as_str(), p1.as_str()]
    );
    assert_eq!(newest["posts"]["totalCount"], 4);
    let oldest = app.ok(&list("orderBy: OLDEST"), json!({}), None).await;
    assert_eq!(
        ids(&oldest),
        [p1.as_str(), p2.as_str(), p3.as_str(), p4.as_str()]
    );
    let voted = app.ok(&list("orderBy: MOST_VOTED"), json!({}), None).await;
    assert_eq!(
        ids(&voted),
        [p3.as_str(), p1.as_str(), p4.as_str(), p2.as_str()],
        "votes, then newest"
    );

    // Forward and backward pages with cursors, for every order.
    for order in ["NEWEST", "OLDEST", "MOST_VOTED"] {
        let all = ids(&app
            .ok(&list(&format!("orderBy: {order}")), json!({}), None)
            .await);
        let first = app
            .ok(
                &list(&format!("orderBy: {order}, first: 2")),
                json!({}),
                None,
            )
            .await;
        assert_eq!(ids(&first), all[..2]);
        assert_eq!(first["posts"]["pageInfo"]["hasNextPage"], true);
        let cursor = first["posts"]["pageInfo"]["endCursor"].as_str().unwrap();
        let second = app
            .ok(
                &list(&format!("orderBy: {order}, first: 2, after: \"{cursor}\"")),
                json!({}),
                None,
            )
            .await;
        assert_eq!(ids(&second), all[2..], "{order}");
        assert_eq!(second["posts"]["pageInfo"]["hasNextPage"], false);
        assert_eq!(second["posts"]["pageInfo"]["hasPreviousPage"], true);
        let back_cursor = second["posts"]["pageInfo"]["startCursor"].as_str().unwrap();
        let back = app
            .ok(
                &list(&format!(
                    "orderBy: {order}, last: 2, before: \"{back_cursor}\""
                )),
                json!({}),
                None,
            )
            .await;
        assert_eq!(ids(&back), all[..2], "{order} backwards");
        assert_eq!(back["posts"]["pageInfo"]["hasPreviousPage"], false);
        let tail = app
            .ok(
                &list(&format!("orderBy: {order}, last: 1")),
                json!({}),
                None,
            )
            .await;
        assert_eq!(ids(&tail), all[3..]);
    }

    // A category includes its descendants.
    let in_qna = app
        .ok(&list(&format!("categoryId: \"{qna}\"")), json!({}), None)
        .await;
    assert_eq!(ids(&in_qna), [p4.as_str(), p2.as_str(), p1.as_str()]);
    assert_eq!(in_qna["posts"]["totalCount"], 3);
    let via_category = app
        .ok("query($id: ID!) { category(id: $id) { posts(orderBy: OLDEST) { totalCount nodes { id } } } }", json!({ "id": tech }), None)
        .await;
    assert_eq!(via_category["category"]["posts"]["totalCount"], 2);
    let by_author = app
        .ok(
            &list(&format!("authorId: \"{}\"", alice.user_id)),
            json!({}),
            None,
        )
        .await;
    assert_eq!(ids(&by_author), [p3.as_str(), p1.as_str()]);
    let user_posts = app
        .ok(
            "{ user(name: \"bob\") { posts { totalCount nodes { title } } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(user_posts["user"]["posts"]["totalCount"], 2);

    // Search: current title or content, case-insensitive, wildcards literal.
    let search = |term: &str| list(&format!("search: {}", serde_json::to_string(term).unwrap()));
    assert_eq!(
        ids(&app.ok(&search("rust"), json!({}), None).await),
        [p3.as_str(), p1.as_str()]
    );
    assert_eq!(
        ids(&app.ok(&search("50%"), json!({}), None).await),
        [p2.as_str()]
    );
    assert_eq!(
        ids(&app.ok(&search("f_s"), json!({}), None).await),
        [p2.as_str()]
    );
    assert_eq!(
        ids(&app.ok(&search("_"), json!({}), None).await),
        [p2.as_str()]
    );
    assert!(ids(&app.ok(&search("%%"), json!({}), None).await).is_empty());
    assert_eq!(
        ids(&app.ok(&search("🦀"), json!({}), None).await),
        [p3.as_str()]
    );
    let bad = app.gql(&search(""), json!({}), None).await;
    assert_eq!(field(&bad), "search");
    let bad = app.gql(&search(&"x".repeat(101)), json!({}), None).await;
    assert_eq!(field(&bad), "search");
    // An edit changes what search sees: the old title no longer matches.
    app.ok(
        UPDATE_POST,
        json!({ "i": { "postId": p1, "title": "Go tips", "content": "goroutines" } }),
        Some(&alice.access),
    )
    .await;
    assert_eq!(
        ids(&app.ok(&search("rust"), json!({}), None).await),
        [p3.as_str()]
    );
    let bad_cursor = app.gql(&list("after: \"bm9wZQ==\""), json!({}), None).await;
    assert_eq!(field(&bad_cursor), "after");
}
