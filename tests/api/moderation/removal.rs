//! Removal: hidden from lists, search, counts and reads by id for everyone but the author, the category's
//! moderators and admins — from the very next read, however warm the caches — and restored the same way.

use super::*;
use crate::helpers::code;

backend_tests!(
    removed_content_is_hidden_from_the_next_read_except_for_its_author_moderators_and_admins,
    removed_comments_leave_the_counts_and_come_back
);

const LIST: &str = "query($c: ID) { posts(categoryId: $c, first: 50) { totalCount nodes { id } } }";
const SEARCH: &str =
    "query($s: String) { posts(search: $s, first: 10) { totalCount nodes { id } } }";
const BY_ID: &str = "query($id: ID!) { post(id: $id) { id isActive title moderation { removed reason removedAt } } \
     node(id: $id) { id } }";

/// `board_moderation_removals_total` of `subject` and `action` on /metrics (the process's, shared by
/// the tests running beside this one: it only grows).
async fn removals(app: &TestApp, subject: &str, action: &str) -> f64 {
    let text = app.metrics_text().await;
    let (subject, action) = (
        format!("subject=\"{subject}\""),
        format!("action=\"{action}\""),
    );
    text.lines()
        .filter(|l| {
            l.starts_with("board_moderation_removals_total")
                && l.contains(&subject)
                && l.contains(&action)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

struct Seen {
    listed: bool,
    total: i64,
    found_by_search: i64,
    by_id: Value,
    node: Value,
}

async fn seen(
    app: &TestApp,
    viewer: Option<&Session>,
    category: &str,
    term: &str,
    post: &str,
) -> Seen {
    let token = viewer.map(|s| s.access.as_str());
    let list = app.ok(LIST, json!({ "c": category }), token).await;
    let search = app.ok(SEARCH, json!({ "s": term }), token).await;
    let by_id = app.ok(BY_ID, json!({ "id": post }), token).await;
    Seen {
        listed: list["posts"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == post),
        total: list["posts"]["totalCount"].as_i64().unwrap(),
        found_by_search: search["posts"]["totalCount"].as_i64().unwrap(),
        by_id: by_id["post"].clone(),
        node: by_id["node"].clone(),
    }
}

async fn removed_content_is_hidden_from_the_next_read_except_for_its_author_moderators_and_admins(
    app: TestApp,
) {
    let w = world(&app).await;
    let term = format!("검색{}", &unique("")[..10]);
    let post = app
        .create_post(
            &w.author.access,
            &w.tech,
            &format!("제목 {term}"),
            "광고 advert",
        )
        .await;
    let viewers: [(&str, Option<&Session>); 5] = [
        ("anonymous", None),
        ("member", Some(&w.member)),
        ("author", Some(&w.author)),
        ("moderator", Some(&w.moderator)),
        ("admin", Some(&w.admin)),
    ];
    // Warm every cache (entries, the newest page with its total, kept answers): read twice.
    let mut totals = Vec::new();
    for (who, viewer) in viewers {
        seen(&app, viewer, &w.qna, &term, &post).await;
        let before = seen(&app, viewer, &w.qna, &term, &post).await;
        assert!(before.listed && before.found_by_search == 1, "{who}");
        assert_eq!(before.by_id["id"], post.as_str());
        totals.push(before.total);
    }
    // Nobody but the author, moderators and admins reads `moderation`; the author's says "not removed".
    let anonymous = app.ok(BY_ID, json!({ "id": post }), None).await;
    assert_eq!(anonymous["post"]["moderation"], Value::Null);
    let own = app
        .ok(BY_ID, json!({ "id": post }), Some(&w.author.access))
        .await;
    assert_eq!(own["post"]["moderation"]["removed"], false);

    let counted_before = removals(&app, "post", "remove").await;
    let removed = remove(&app, &w.moderator, &post, "광고 spam").await;
    assert!(removed.get("errors").is_none(), "{removed:#}");
    assert!(removals(&app, "post", "remove").await > counted_before);

    for ((who, viewer), total_before) in viewers.into_iter().zip(totals) {
        let after = seen(&app, viewer, &w.qna, &term, &post).await;
        assert!(!after.listed, "{who}: removed posts leave every list");
        assert_eq!(after.total, total_before - 1, "{who}: and its count");
        assert_eq!(after.found_by_search, 0, "{who}: and search");
        match who {
            "anonymous" | "member" => {
                assert_eq!(after.by_id, Value::Null, "{who}");
                assert_eq!(after.node, Value::Null, "{who}");
            }
            _ => {
                assert_eq!(after.by_id["isActive"], false, "{who}");
                assert_eq!(after.by_id["moderation"]["removed"], true, "{who}");
                assert_eq!(after.by_id["moderation"]["reason"], "광고 spam", "{who}");
                assert!(after.by_id["moderation"]["removedAt"].is_string(), "{who}");
                assert_eq!(after.node["id"], post.as_str(), "{who}");
            }
        }
    }
    // Removing again changes nothing: one entry in the log.
    let again = remove(&app, &w.admin, &post, "again").await;
    assert!(again.get("errors").is_none(), "{again:#}");
    let entries = log(&app, Some(&w.qna), Some(&w.moderator)).await;
    assert_eq!(super::entries(&entries, "REMOVE", &post), 1);
    // The author may neither edit nor delete it meanwhile; nobody may comment or vote on it.
    let edit = app
        .gql(
            "mutation($id: ID!) { updatePost(input: { postId: $id, title: \"t\", content: \"c\" }) { post { id } } }",
            json!({ "id": post }),
            Some(&w.author.access),
        )
        .await;
    // The author still sees it, so is told why; anyone else learns nothing of it.
    assert_eq!(code(&edit), "FORBIDDEN", "{edit:#}");
    let delete = "mutation($id: ID!) { deletePost(input: { postId: $id }) { deletedId } }";
    let by_author = app
        .gql(delete, json!({ "id": post }), Some(&w.author.access))
        .await;
    assert_eq!(code(&by_author), "FORBIDDEN", "{by_author:#}");
    let by_other = app
        .gql(
            "mutation($id: ID!) { updatePost(input: { postId: $id, title: \"t\", content: \"c\" }) { post { id } } }",
            json!({ "id": post }),
            Some(&w.member.access),
        )
        .await;
    assert_eq!(code(&by_other), "NOT_FOUND", "{by_other:#}");
    let vote = app
        .gql(
            "mutation($id: ID!) { votePost(input: { postId: $id }) { post { id } } }",
            json!({ "id": post }),
            Some(&w.member.access),
        )
        .await;
    assert_eq!(code(&vote), "NOT_FOUND");

    // Restored: back for everyone, on the next read.
    let restored = restore(&app, &w.moderator, &post).await;
    assert!(restored.get("errors").is_none(), "{restored:#}");
    for (who, viewer) in viewers {
        let after = seen(&app, viewer, &w.qna, &term, &post).await;
        assert!(after.listed && after.found_by_search == 1, "{who}");
        assert_eq!(after.by_id["isActive"], true, "{who}");
    }
    let own = app
        .ok(BY_ID, json!({ "id": post }), Some(&w.author.access))
        .await;
    assert_eq!(own["post"]["moderation"]["removed"], false);
    // Restoring restored content changes nothing; an author's delete is never undone by it.
    let again = restore(&app, &w.moderator, &post).await;
    assert!(again.get("errors").is_none(), "{again:#}");
    let entries = log(&app, Some(&w.tech), Some(&w.moderator)).await;
    assert_eq!(super::entries(&entries, "RESTORE", &post), 1);
    let deleted = app
        .create_post(&w.author.access, &w.tech, "지울 글", "본문")
        .await;
    app.ok(
        "mutation($id: ID!) { deletePost(input: { postId: $id }) { deletedId } }",
        json!({ "id": deleted }),
        Some(&w.author.access),
    )
    .await;
    let refused = restore(&app, &w.moderator, &deleted).await;
    assert_eq!(code(&refused), "NOT_FOUND", "{refused:#}");
}

const POST_COMMENTS: &str = "query($id: ID!) { post(id: $id) { commentCount comments(first: 20) { totalCount nodes { id } } } }";

async fn removed_comments_leave_the_counts_and_come_back(app: TestApp) {
    let w = world(&app).await;
    let post = app
        .create_post(&w.author.access, &w.tech, "댓글 글", "본문")
        .await;
    let keep = comment(&app, &w.author, &post, "좋아요").await;
    let spam = comment(&app, &w.member, &post, "광고 spam").await;
    for _ in 0..2 {
        let warm = app.ok(POST_COMMENTS, json!({ "id": post }), None).await;
        assert_eq!(warm["post"]["commentCount"], 2);
    }
    let removed = remove(&app, &w.moderator, &spam, "스팸").await;
    assert!(removed.get("errors").is_none(), "{removed:#}");
    assert_eq!(
        removed["data"]["removeContent"]["subject"]["moderation"]["removed"],
        true
    );
    let after = app.ok(POST_COMMENTS, json!({ "id": post }), None).await;
    assert_eq!(after["post"]["commentCount"], 1);
    assert_eq!(after["post"]["comments"]["nodes"], json!([{ "id": keep }]));
    let by_id = "query($id: ID!) { comment(id: $id) { id moderation { removed reason } } }";
    for (viewer, visible) in [
        (None, false),
        (Some(&w.author), false),
        (Some(&w.member), true),
        (Some(&w.moderator), true),
        (Some(&w.admin), true),
    ] {
        let read = app
            .ok(
                by_id,
                json!({ "id": spam }),
                viewer.map(|s| s.access.as_str()),
            )
            .await;
        if visible {
            assert_eq!(read["comment"]["moderation"]["reason"], "스팸");
        } else {
            assert_eq!(read["comment"], Value::Null);
        }
    }
    let restored = restore(&app, &w.moderator, &spam).await;
    assert!(restored.get("errors").is_none(), "{restored:#}");
    let after = app.ok(POST_COMMENTS, json!({ "id": post }), None).await;
    assert_eq!(after["post"]["commentCount"], 2);
    assert_eq!(after["post"]["comments"]["totalCount"], 2);
}
