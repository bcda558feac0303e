//! `contentHtml` of posts, comments and their revisions: Markdown rendered and sanitised once per version,
//! read the same way by id, in lists and in revisions, carried by the cache, and replaced by an edit.

use super::*;

backend_tests!(
    posts_render_their_markdown_per_version,
    comments_render_their_markdown_per_version
);

const SOURCE: &str = "# 공지\n\n**굵게** 쓴 글, @철수kim 님 ~~old~~\n\n- [x] done\n- [ ] todo\n\n\
| a | b |\n|---|:-:|\n| 1 | 2 |\n\n<script>alert(1)</script>\n\n\
![cat](https://cats.example/c.png) [x](javascript:alert(1)) https://board.example/a";

const POST_HTML: &str = "query($id: ID!) { post(id: $id) { content contentHtml version } }";
const LIST_HTML: &str =
    "query($c: ID) { posts(categoryId: $c, first: 10) { nodes { id contentHtml } } }";
const REVISIONS: &str =
    "query($id: ID!) { post(id: $id) { revisions { version title content contentHtml } } }";

fn assert_rendered(html: &str) {
    for expected in [
        "<h1>공지</h1>",
        "<strong>굵게</strong> 쓴 글",
        "<a href=\"/users/%EC%B2%A0%EC%88%98kim\" class=\"mention\" rel=\"nofollow ugc noopener\">@철수kim</a> 님",
        "<del>old</del>",
        "type=\"checkbox\"",
        "<table>",
        "<th style=\"text-align: center\">b</th>",
        "<a href=\"https://cats.example/c.png\" rel=\"nofollow ugc noopener\">cat</a>",
        "<a href=\"https://board.example/a\" rel=\"nofollow ugc noopener\">https://board.example/a</a>",
    ] {
        assert!(html.contains(expected), "{expected:?} missing from {html}");
    }
    for forbidden in ["<script", "alert(1)</script", "<img", "javascript:"] {
        assert!(!html.contains(forbidden), "{forbidden:?} in {html}");
    }
}

async fn posts_render_their_markdown_per_version(app: TestApp) {
    let author = app
        .sign_up("철수kim", "chulsoo@example.com", "password-1")
        .await;
    let life = category(&app, "life").await;
    let id = post(&app, &author, &life, "마크다운", SOURCE).await;

    let read = app.ok(POST_HTML, json!({ "id": id }), None).await;
    assert_eq!(
        read["post"]["content"], SOURCE,
        "the source is kept as written"
    );
    let html = read["post"]["contentHtml"].as_str().unwrap().to_owned();
    assert_rendered(&html);

    // A warm read answers from the cache alone, and the cached post carries the HTML.
    let (warm, db, _) = app.gql_counted(POST_HTML, json!({ "id": id }), None).await;
    assert_eq!(db, 0, "a warm read went to the database: {warm:#}");
    assert_eq!(warm["data"]["post"]["contentHtml"], html.as_str());

    let list = app.ok(LIST_HTML, json!({ "c": life }), None).await;
    let listed = list["posts"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == id.as_str())
        .unwrap();
    assert_eq!(
        listed["contentHtml"],
        html.as_str(),
        "a list shows the same HTML"
    );

    // The edit's new version renders its own text; the warm entry is not served after it.
    app.ok(
        UPDATE_POST,
        json!({ "i": { "postId": id, "title": "고침", "content": "_새_ 글 @영희" } }),
        Some(&author.access),
    )
    .await;
    let edited = app.ok(POST_HTML, json!({ "id": id }), None).await;
    assert_eq!(edited["post"]["version"], 1);
    let new_html = edited["post"]["contentHtml"].as_str().unwrap();
    assert_eq!(
        new_html,
        "<p><em>새</em> 글 <a href=\"/users/%EC%98%81%ED%9D%AC\" class=\"mention\" rel=\"nofollow ugc noopener\">@영희</a></p>\n"
    );
    let list = app.ok(LIST_HTML, json!({ "c": life }), None).await;
    assert!(
        list["posts"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["contentHtml"] == new_html),
        "the list shows the new version: {list:#}"
    );

    // Each revision keeps the HTML of its own version.
    let revisions = app.ok(REVISIONS, json!({ "id": id }), None).await;
    let revisions = revisions["post"]["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 2);
    assert_eq!(revisions[0]["contentHtml"], html.as_str());
    assert_eq!(revisions[1]["contentHtml"], new_html);

    // Search matches the source, not the markup rendered from it.
    let search = "query($s: String) { posts(search: $s, first: 10) { totalCount } }";
    let found = app.ok(search, json!({ "s": "새" }), None).await;
    assert_eq!(found["posts"]["totalCount"], 1);
    for markup in ["mention", "nofollow", "users"] {
        let found = app.ok(search, json!({ "s": markup }), None).await;
        assert_eq!(found["posts"]["totalCount"], 0, "{markup} matched the HTML");
    }
}

async fn comments_render_their_markdown_per_version(app: TestApp) {
    let author = app
        .sign_up("writer", "writer@example.com", "password-1")
        .await;
    let reader = app
        .sign_up("영희", "younghee@example.com", "password-1")
        .await;
    let life = category(&app, "life").await;
    let post_id = post(&app, &author, &life, "thread", "discuss").await;
    let id = comment(
        &app,
        &reader,
        &post_id,
        "@writer 좋아요 `<b>` <img src=x onerror=alert(1)>",
    )
    .await;

    let thread = "query($id: ID!) { post(id: $id) { comments(first: 10) { nodes { id content contentHtml \
                  revisions { version contentHtml } } } } }";
    let first_html = "<p><a href=\"/users/writer\" class=\"mention\" rel=\"nofollow ugc noopener\">@writer</a> \
                      좋아요 <code>&lt;b&gt;</code> </p>\n";
    let read = app.ok(thread, json!({ "id": post_id }), None).await;
    let node = &read["post"]["comments"]["nodes"][0];
    assert_eq!(node["id"], id.as_str());
    assert_eq!(node["contentHtml"], first_html);
    // Warm, then edit, then read: the new version's HTML.
    let (warm, db, _) = app
        .gql_counted(thread, json!({ "id": post_id }), None)
        .await;
    assert_eq!(db, 0, "a warm read went to the database: {warm:#}");
    assert_eq!(
        warm["data"]["post"]["comments"]["nodes"][0]["contentHtml"],
        first_html
    );

    let update = "mutation($i: UpdateCommentInput!) { updateComment(input: $i) { comment { version contentHtml } } }";
    let edited = app
        .ok(
            update,
            json!({ "i": { "commentId": id, "content": "| 표 |\n|---|\n| 칸 |" } }),
            Some(&reader.access),
        )
        .await;
    let new_html = "<table><thead><tr><th>표</th></tr></thead><tbody>\n<tr><td>칸</td></tr>\n</tbody></table>\n";
    assert_eq!(edited["updateComment"]["comment"]["contentHtml"], new_html);
    let read = app.ok(thread, json!({ "id": post_id }), None).await;
    let node = &read["post"]["comments"]["nodes"][0];
    assert_eq!(node["contentHtml"], new_html);
    assert_eq!(node["revisions"][0]["contentHtml"], first_html);
    assert_eq!(node["revisions"][1]["contentHtml"], new_html);
}

/// Versions written before migration 0010 (or by a process that predates it) have no stored HTML: a read
/// renders it, and the next migration run stores it. Caching off, so every read reaches the database.
mod versions_without_stored_html {
    use crate::helpers::{Backend, TestApp};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = TestApp::spawn_with(Backend::Sqlite, |c| c.cache_ttl_secs = 0).await;
        super::versions_without_stored_html_are_rendered_then_filled(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
    async fn mariadb_redis() {
        crate::helpers::require_external();
        let app = TestApp::spawn_with(Backend::MariaDb, |c| c.cache_ttl_secs = 0).await;
        super::versions_without_stored_html_are_rendered_then_filled(app).await;
    }
}

async fn versions_without_stored_html_are_rendered_then_filled(app: TestApp) {
    use board::adapters::sql::Db;

    let author = app
        .sign_up("old_kim", "old@example.com", "password-1")
        .await;
    let life = category(&app, "life").await;
    let id = post(&app, &author, &life, "예전 글", "**예전** @old_kim").await;
    comment(&app, &author, &id, "~~지움~~").await;
    let db = Db::connect(&board::config::Config::from(&app.config).db)
        .await
        .unwrap();
    const FORGET: [&str; 2] = [
        "UPDATE post_content SET content_html = NULL",
        "UPDATE comment_content SET content_html = NULL",
    ];
    const STORED: &str = "SELECT CAST(content_html AS CHAR) FROM post_content \
                          UNION ALL SELECT CAST(content_html AS CHAR) FROM comment_content";
    async fn stored(db: &Db) -> Vec<Option<String>> {
        match db {
            Db::Sqlite(pool) => sqlx::query_scalar(STORED).fetch_all(pool).await.unwrap(),
            Db::MySql(pool) => sqlx::query_scalar(STORED).fetch_all(pool).await.unwrap(),
        }
    }
    for sql in FORGET {
        match &db {
            Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
            Db::MySql(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        }
        .unwrap();
    }
    assert_eq!(stored(&db).await, [None, None]);

    let thread = "query($id: ID!) { post(id: $id) { contentHtml revisions { contentHtml } \
                  comments(first: 1) { nodes { contentHtml } } } }";
    let post_html = "<p><strong>예전</strong> <a href=\"/users/old_kim\" class=\"mention\" \
                     rel=\"nofollow ugc noopener\">@old_kim</a></p>\n";
    let comment_html = "<p><del>지움</del></p>\n";
    let read = app.ok(thread, json!({ "id": id }), None).await;
    assert_eq!(read["post"]["contentHtml"], post_html);
    assert_eq!(read["post"]["revisions"][0]["contentHtml"], post_html);
    assert_eq!(
        read["post"]["comments"]["nodes"][0]["contentHtml"],
        comment_html
    );

    db.migrate().await.unwrap();
    assert_eq!(
        stored(&db).await,
        [Some(post_html.to_owned()), Some(comment_html.to_owned())],
        "migrating stores what was missing"
    );
}
