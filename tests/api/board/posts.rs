//! Posts: every version kept, soft deletion, concurrent edits, text rules, the CSV export.

use super::*;

backend_tests!(
    posts_keep_every_version_and_delete_softly,
    twenty_concurrent_edits_end_as_versions_0_to_20,
    text_rules_name_their_field,
    posts_export_as_csv,
);

async fn posts_keep_every_version_and_delete_softly(app: TestApp) {
    let author = app
        .sign_up("writer", "writer@example.com", "password-1")
        .await;
    let other = app
        .sign_up("reader", "reader@example.com", "password-1")
        .await;
    let admin = app.admin().await;
    let tech = category(&app, "tech").await;
    let id = post(&app, &author, &tech, "  First title  ", "첫 번째 글 🦀").await;

    let anonymous = app
        .gql(
            CREATE_POST,
            json!({ "i": { "categoryId": tech, "title": "t", "content": "c" } }),
            None,
        )
        .await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");

    let updated = app
        .ok(
            UPDATE_POST,
            json!({ "i": { "postId": id, "title": "Second", "content": "두 번째" } }),
            Some(&author.access),
        )
        .await;
    assert_eq!(updated["updatePost"]["post"]["version"], 1);
    let not_author = app
        .gql(
            UPDATE_POST,
            json!({ "i": { "postId": id, "title": "x", "content": "y" } }),
            Some(&other.access),
        )
        .await;
    assert_eq!(code(&not_author), "FORBIDDEN");

    let q = "query($id: ID!) { post(id: $id) { title content version isActive createdAt updatedAt author { name } category { name } \
             revisions { version title content } viewerCanEdit viewerCanDelete } }";
    let read = app.ok(q, json!({ "id": id }), Some(&author.access)).await;
    let p = &read["post"];
    assert_eq!(p["title"], "Second");
    assert_eq!(p["content"], "두 번째");
    assert_eq!(p["author"]["name"], "writer");
    assert_eq!(p["category"]["name"], "tech");
    assert_eq!(
        p["revisions"],
        json!([
            { "version": 0, "title": "First title", "content": "첫 번째 글 🦀" },
            { "version": 1, "title": "Second", "content": "두 번째" },
        ])
    );
    assert_eq!(
        (p["viewerCanEdit"].as_bool(), p["viewerCanDelete"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(p["updatedAt"].as_str().unwrap() >= p["createdAt"].as_str().unwrap());
    let as_other = app.ok(q, json!({ "id": id }), Some(&other.access)).await;
    assert_eq!(
        (
            as_other["post"]["viewerCanEdit"].as_bool(),
            as_other["post"]["viewerCanDelete"].as_bool()
        ),
        (Some(false), Some(false))
    );

    let delete = "mutation($id: ID!) { deletePost(input: { postId: $id }) { deletedId } }";
    assert_eq!(
        code(
            &app.gql(delete, json!({ "id": id }), Some(&other.access))
                .await
        ),
        "FORBIDDEN"
    );
    let deleted = app
        .ok(delete, json!({ "id": id }), Some(&admin.access))
        .await;
    assert_eq!(deleted["deletePost"]["deletedId"], id.as_str());

    // Hidden from everyone but admins, and from lists.
    assert!(app.ok(q, json!({ "id": id }), Some(&author.access)).await["post"].is_null());
    assert!(app.ok(q, json!({ "id": id }), None).await["post"].is_null());
    let node = app
        .ok(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": id }),
            None,
        )
        .await;
    assert!(node["node"].is_null());
    let seen = app.ok(q, json!({ "id": id }), Some(&admin.access)).await;
    assert_eq!(seen["post"]["isActive"], false);
    let list = app
        .ok(
            "{ posts { totalCount nodes { id } } }",
            json!({}),
            Some(&admin.access),
        )
        .await;
    assert_eq!(list["posts"]["totalCount"], 0);
    let again = app
        .gql(
            UPDATE_POST,
            json!({ "i": { "postId": id, "title": "x", "content": "y" } }),
            Some(&author.access),
        )
        .await;
    assert_eq!(code(&again), "NOT_FOUND");
    let comment_on_deleted = app
        .gql(
            CREATE_COMMENT,
            json!({ "i": { "postId": id, "content": "late" } }),
            Some(&other.access),
        )
        .await;
    assert_eq!(code(&comment_on_deleted), "NOT_FOUND");
    let vote_deleted = app
        .gql(VOTE, json!({ "id": id }), Some(&other.access))
        .await;
    assert_eq!(code(&vote_deleted), "NOT_FOUND");
}

async fn twenty_concurrent_edits_end_as_versions_0_to_20(app: TestApp) {
    let author = app
        .sign_up("editor", "editor@example.com", "password-1")
        .await;
    let tech = category(&app, "tech").await;
    let id = post(&app, &author, &tech, "v0", "v0").await;
    let edits = (1..=20).map(|n| {
        let (app, author, id) = (&app, &author, &id);
        async move {
            app.ok(
                UPDATE_POST,
                json!({ "i": { "postId": id, "title": format!("edit {n}"), "content": format!("edit {n}") } }),
                Some(&author.access),
            )
            .await
        }
    });
    join_all(edits).await;
    let read = app
        .ok(
            "query($id: ID!) { post(id: $id) { version revisions { version } } }",
            json!({ "id": id }),
            None,
        )
        .await;
    assert_eq!(read["post"]["version"], 20);
    let versions: Vec<i64> = read["post"]["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, (0..=20).collect::<Vec<_>>());
}

async fn posts_export_as_csv(app: TestApp) {
    let author = app
        .sign_up("exporter", "exporter@example.com", "password-1")
        .await;
    let other = app.sign_up("콤마", "comma@example.com", "password-1").await;
    let tech = category(&app, "tech").await;
    let id = post(
        &app,
        &author,
        &tech,
        "제목, with \"quotes\"",
        "line one\nline two 🦀",
    )
    .await;
    comment(&app, &other, &id, "=HYPERLINK(\"http://evil\")").await;
    comment(&app, &author, &id, "plain 댓글").await;
    let url = |id: &str| format!("{}/posts/{}/export.csv", app.base, id.replace('/', "%2F"));
    let response = app.client().get(url(&id)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 byte-order mark");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "type,id,version,author,created_at,updated_at,votes,title,content"
    );
    assert!(
        lines[1].starts_with(&format!("post,{id},0,exporter,")),
        "{}",
        lines[1]
    );
    assert!(
        text.contains("\"제목, with \"\"quotes\"\"\",\"line one\nline two 🦀\""),
        "{text}"
    );
    assert!(text.contains(",콤마,"));
    assert!(
        text.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""),
        "formulas are defused: {text}"
    );
    assert!(text.contains(",plain 댓글\r\n"));
    assert!(text.ends_with("\r\n"));

    let missing = app
        .client()
        .get(url("UG9zdDo5OTk5OTk="))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let garbage = app.client().get(url("nope")).send().await.unwrap();
    assert_eq!(garbage.status(), 404);
    app.ok(
        "mutation($id: ID!) { deletePost(input: { postId: $id }) { deletedId } }",
        json!({ "id": id }),
        Some(&author.access),
    )
    .await;
    let deleted = app.client().get(url(&id)).send().await.unwrap();
    assert_eq!(deleted.status(), 404);
}

async fn text_rules_name_their_field(app: TestApp) {
    let author = app
        .sign_up("rules", "rules@example.com", "password-1")
        .await;
    let tech = category(&app, "tech").await;
    let cases = [
        (
            json!({ "categoryId": tech, "title": "   ", "content": "c" }),
            "title",
        ),
        (
            json!({ "categoryId": tech, "title": "t".repeat(201), "content": "c" }),
            "title",
        ),
        (
            json!({ "categoryId": tech, "title": "t", "content": "" }),
            "content",
        ),
        (
            json!({ "categoryId": tech, "title": "t", "content": "c".repeat(40_001) }),
            "content",
        ),
        (
            json!({ "categoryId": "VXNlcjox", "title": "t", "content": "c" }),
            "categoryId",
        ),
        (
            json!({ "categoryId": "Q2F0ZWdvcnk6OTk5", "title": "t", "content": "c" }),
            "categoryId",
        ),
    ];
    for (input, bad) in cases {
        let body = app
            .gql(CREATE_POST, json!({ "i": input }), Some(&author.access))
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
        assert_eq!(field(&body), bad);
    }
    let ok = app
        .ok(CREATE_POST, json!({ "i": { "categoryId": tech, "title": "가".repeat(200), "content": "나".repeat(40_000) } }), Some(&author.access))
        .await;
    let id = ok["createPost"]["post"]["id"].as_str().unwrap();
    let long = app
        .gql(
            CREATE_COMMENT,
            json!({ "i": { "postId": id, "content": "c".repeat(10_001) } }),
            Some(&author.access),
        )
        .await;
    assert_eq!(field(&long), "content");
    let max = app
        .gql(
            CREATE_COMMENT,
            json!({ "i": { "postId": id, "content": "😀".repeat(10_000) } }),
            Some(&author.access),
        )
        .await;
    assert!(max.get("errors").is_none());
}
