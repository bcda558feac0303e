//! One answer for every signed-in member: an answer whose only viewer-dependent fields are the viewer's own
//! (`viewerHasVoted`, `viewerCanEdit`, …) is kept once and filled for each member from their own cache
//! entries — without the database when those are warm — while anything else that depends on the viewer
//! (their role, moderation, removed content, `viewer`) is never served from it. Vote counts are filled the
//! same way, for anonymous answers too, so a vote does not make anyone's page be built again. Runs on
//! SQLite and, with `--include-ignored` and TEST_* set, on MariaDB + Redis.

use crate::helpers::{Session, TestApp, code, unique};
use serde_json::{Value, json};

backend_tests!(
    a_members_page_is_filled_from_another_members_answer_without_the_database,
    what_depends_on_the_viewer_beyond_their_fields_is_never_shared,
    a_role_change_a_block_and_a_deletion_are_seen_at_once,
    a_vote_is_filled_into_kept_pages_and_an_edit_retires_them,
    a_vote_reads_again_only_the_values_it_changed,
);

const PAGE: &str = "query($c: ID) { posts(categoryId: $c, first: 20) { edges { node { id title voteCount \
     viewerHasVoted viewerCanEdit viewerCanDelete author { name } category { name } } } } }";
const VOTE: &str = "mutation($id: ID!) { votePost(input: { postId: $id }) { post { id } } }";
const UPDATE: &str =
    "mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { version } } }";

/// One read as `token` (`""`: anonymous): (body, database round trips, answered from a kept answer or
/// template).
async fn read(app: &TestApp, query: &str, variables: &Value, token: &str) -> (Value, u64, bool) {
    app.settle_fanout().await;
    let response = app
        .post(
            &json!({ "query": query, "variables": variables }),
            Some(token).filter(|t| !t.is_empty()),
        )
        .await;
    let db = response.headers()["x-db-round-trips"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let kept = response.headers().get("x-answer-kept").is_some();
    (response.json().await.unwrap(), db, kept)
}

/// Reads until the answer is kept (its template too, when it makes one); answers the kept answer.
async fn warm(app: &TestApp, query: &str, variables: &Value, token: &str) -> Value {
    for _ in 0..4 {
        let (body, _, kept) = read(app, query, variables, token).await;
        assert!(body.get("errors").is_none(), "{body:#}");
        if kept {
            return body;
        }
    }
    panic!("never kept: {query}");
}

fn node<'a>(page: &'a Value, id: &str) -> &'a Value {
    page["data"]["posts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["id"] == id)
        .unwrap_or_else(|| panic!("post {id} not on the page: {page:#}"))
}

async fn member(app: &TestApp, name: &str) -> Session {
    let name = format!("{name}{}", &unique("")[..6]);
    app.sign_up(&name, &format!("{}@example.com", unique("m")), "password-1")
        .await
}

/// Three posts by `author` in the first category.
async fn seed(app: &TestApp, author: &Session) -> (Value, Vec<String>) {
    let category = app.first_category().await;
    let mut posts = Vec::new();
    for n in 0..3 {
        let title = format!("글 {n} post");
        posts.push(
            app.create_post(&author.access, &category, &title, "본문")
                .await,
        );
    }
    (json!({ "c": category }), posts)
}

async fn a_members_page_is_filled_from_another_members_answer_without_the_database(app: TestApp) {
    let author = member(&app, "작가").await;
    let b = member(&app, "민지").await;
    let c = member(&app, "kim").await;
    let (vars, posts) = seed(&app, &author).await;
    app.ok(VOTE, json!({ "id": posts[0] }), Some(&b.access))
        .await;

    // Both members read the page once: their own entries (votes, user) are warm from here on.
    warm(&app, PAGE, &vars, &c.access).await;
    warm(&app, PAGE, &vars, &b.access).await;

    // A write neither member's entries depend on retires every kept answer and template; B builds the page
    // again.
    app.ok(
        UPDATE,
        json!({ "i": { "postId": posts[1], "title": "고친 제목 edited", "content": "본문" } }),
        Some(&author.access),
    )
    .await;
    let (mine, _, kept) = read(&app, PAGE, &vars, &b.access).await;
    assert!(!kept, "a kept answer was served after a write");
    assert_eq!(node(&mine, &posts[0])["viewerHasVoted"], true);
    assert_eq!(node(&mine, &posts[1])["title"], "고친 제목 edited");
    app.ok(VOTE, json!({ "id": posts[1] }), Some(&author.access))
        .await;
    let (mine, _, _) = read(&app, PAGE, &vars, &b.access).await;

    // C's first read after it: B's answer, filled with C's own fields, without the database.
    let (theirs, db, kept) = read(&app, PAGE, &vars, &c.access).await;
    assert!(theirs.get("errors").is_none(), "{theirs:#}");
    assert!(kept, "not answered from the members' template");
    assert_eq!(db, 0, "filling the template went to the database");
    assert_eq!(node(&theirs, &posts[0])["viewerHasVoted"], false);
    assert_eq!(node(&theirs, &posts[0])["voteCount"], 1);
    assert_eq!(node(&theirs, &posts[1])["voteCount"], 1);
    for post in &posts {
        assert_eq!(node(&theirs, post)["viewerCanEdit"], false);
        assert_eq!(node(&theirs, post)["title"], node(&mine, post)["title"]);
    }
    // And kept as C's own: the next read is a plain hit.
    let (again, db, kept) = read(&app, PAGE, &vars, &c.access).await;
    assert!(kept && db == 0);
    assert_eq!(again["data"], theirs["data"]);

    // The author's rights are theirs, not the builder's.
    let (authors, _, _) = read(&app, PAGE, &vars, &author.access).await;
    assert_eq!(node(&authors, &posts[2])["viewerCanEdit"], true);
    assert_eq!(node(&authors, &posts[2])["viewerCanDelete"], true);
    assert_eq!(node(&authors, &posts[1])["viewerHasVoted"], true);
    assert_eq!(node(&authors, &posts[0])["viewerHasVoted"], false);

    // C votes: C's very next read shows it, filled into the template; so does B's, with B's own fields.
    app.ok(VOTE, json!({ "id": posts[2] }), Some(&c.access))
        .await;
    let (theirs, _, kept) = read(&app, PAGE, &vars, &c.access).await;
    assert!(kept, "a vote made the page be built again");
    assert_eq!(node(&theirs, &posts[2])["viewerHasVoted"], true);
    assert_eq!(node(&theirs, &posts[2])["voteCount"], 1);
    let (mine, db, kept) = read(&app, PAGE, &vars, &b.access).await;
    assert!(kept && db == 0, "B was not served from the template");
    assert_eq!(node(&mine, &posts[2])["viewerHasVoted"], false);
    assert_eq!(node(&mine, &posts[2])["voteCount"], 1);
    assert_eq!(node(&mine, &posts[0])["viewerHasVoted"], true);
    // B takes the vote back: seen by B's very next read, wherever the answer comes from.
    app.ok(
        "mutation($id: ID!) { unvotePost(input: { postId: $id }) { post { id } } }",
        json!({ "id": posts[0] }),
        Some(&b.access),
    )
    .await;
    read(&app, PAGE, &vars, &c.access).await;
    let (mine, _, _) = read(&app, PAGE, &vars, &b.access).await;
    assert_eq!(node(&mine, &posts[0])["viewerHasVoted"], false);
    assert_eq!(node(&mine, &posts[0])["voteCount"], 0);
}

async fn what_depends_on_the_viewer_beyond_their_fields_is_never_shared(app: TestApp) {
    let admin = app.admin().await;
    let author = member(&app, "작가").await;
    let reader = member(&app, "reader").await;
    let (vars, posts) = seed(&app, &author).await;

    // `moderation` is for the author, the category's moderators and admins: the admin's page is theirs.
    let moderated = "query($c: ID) { posts(categoryId: $c, first: 20) { edges { node { id \
         viewerHasVoted moderation { removed } } } } }";
    let admins = warm(&app, moderated, &vars, &admin.access).await;
    assert_eq!(node(&admins, &posts[0])["moderation"]["removed"], false);
    let (readers, _, _) = read(&app, moderated, &vars, &reader.access).await;
    assert_eq!(
        node(&readers, &posts[0])["moderation"],
        Value::Null,
        "{readers:#}"
    );

    // A removed post: the admin sees it, a member does not, whoever read it first.
    app.ok(
        "mutation($i: RemoveContentInput!) { removeContent(input: $i) { subject { id } } }",
        json!({ "i": { "subjectId": posts[1], "reason": "스팸 spam" } }),
        Some(&admin.access),
    )
    .await;
    let one = "query($id: ID!) { post(id: $id) { id title viewerHasVoted viewerCanDelete } }";
    let id = json!({ "id": posts[1] });
    let seen = warm(&app, one, &id, &admin.access).await;
    assert_eq!(seen["data"]["post"]["id"], posts[1].as_str());
    let (hidden, _, _) = read(&app, one, &id, &reader.access).await;
    assert_eq!(hidden["data"]["post"], Value::Null, "{hidden:#}");
    // Its author still sees it, with their own rights.
    let (own, _, _) = read(&app, one, &id, &author.access).await;
    assert_eq!(own["data"]["post"]["id"], posts[1].as_str());

    // `viewer` is each member's own.
    let me = "{ viewer { id name } }";
    warm(&app, me, &json!({}), &admin.access).await;
    let (mine, _, _) = read(&app, me, &json!({}), &reader.access).await;
    assert_eq!(mine["data"]["viewer"]["id"], reader.user_id.as_str());
}

async fn a_role_change_a_block_and_a_deletion_are_seen_at_once(app: TestApp) {
    let admin = app.admin().await;
    let author = member(&app, "작가").await;
    let reader = member(&app, "reader").await;
    let (vars, posts) = seed(&app, &author).await;

    warm(&app, PAGE, &vars, &reader.access).await;
    let page = warm(&app, PAGE, &vars, &admin.access).await;
    assert_eq!(node(&page, &posts[0])["viewerCanDelete"], true);

    // Promoted: the very next read, whoever built the page, lets them delete.
    app.ok(
        "mutation($i: SetUserRoleInput!) { setUserRole(input: $i) { user { role } } }",
        json!({ "i": { "userId": reader.user_id, "role": "ADMIN" } }),
        Some(&admin.access),
    )
    .await;
    warm(&app, PAGE, &vars, &author.access).await;
    let (promoted, _, _) = read(&app, PAGE, &vars, &reader.access).await;
    assert_eq!(node(&promoted, &posts[0])["viewerCanDelete"], true);
    // Demoted again: the same, the other way.
    app.ok(
        "mutation($i: SetUserRoleInput!) { setUserRole(input: $i) { user { role } } }",
        json!({ "i": { "userId": reader.user_id, "role": "USER" } }),
        Some(&admin.access),
    )
    .await;
    warm(&app, PAGE, &vars, &author.access).await;
    let (demoted, _, _) = read(&app, PAGE, &vars, &reader.access).await;
    assert_eq!(node(&demoted, &posts[0])["viewerCanDelete"], false);

    // A deleted post leaves every member's next read.
    app.ok(
        "mutation($id: ID!) { deletePost(input: { postId: $id }) { deletedId } }",
        json!({ "id": posts[0] }),
        Some(&author.access),
    )
    .await;
    warm(&app, PAGE, &vars, &author.access).await;
    let (after, _, _) = read(&app, PAGE, &vars, &reader.access).await;
    let edges = after["data"]["posts"]["edges"].as_array().unwrap();
    assert!(edges.iter().all(|e| e["node"]["id"] != posts[0].as_str()));
    assert_eq!(edges.len(), 2);

    // Blocked: never served, not even from a page another member built after the block.
    app.ok(
        "mutation($i: BlockUserInput!) { blockUser(input: $i) { user { id } } }",
        json!({ "i": { "userId": reader.user_id } }),
        Some(&admin.access),
    )
    .await;
    warm(&app, PAGE, &vars, &author.access).await;
    let blocked = app.gql(PAGE, vars.clone(), Some(&reader.access)).await;
    assert_eq!(code(&blocked), "UNAUTHENTICATED", "{blocked:#}");
}

async fn a_vote_is_filled_into_kept_pages_and_an_edit_retires_them(app: TestApp) {
    let author = member(&app, "작가").await;
    let voter = member(&app, "철수kim").await;
    let (vars, posts) = seed(&app, &author).await;
    let anonymous = "query($c: ID) { posts(categoryId: $c, first: 20) { edges { node { id title \
         voteCount viewerHasVoted author { name } } } } }";
    warm(&app, anonymous, &vars, "").await;
    // Votes and a withdrawal: each next anonymous read is filled from the kept template, with the count.
    for (mutation, post, count) in [
        ("votePost", &posts[0], 1),
        ("votePost", &posts[2], 1),
        ("unvotePost", &posts[0], 0),
    ] {
        app.ok(
            &format!(
                "mutation($id: ID!) {{ {mutation}(input: {{ postId: $id }}) {{ post {{ id }} }} }}"
            ),
            json!({ "id": post }),
            Some(&voter.access),
        )
        .await;
        let (page, db, kept) = read(&app, anonymous, &vars, "").await;
        assert!(
            kept,
            "a vote made the anonymous page be built again: {page:#}"
        );
        assert_eq!(db, 0, "filling the counts went to the database");
        assert_eq!(node(&page, post)["voteCount"], count, "{mutation} {page:#}");
        assert_eq!(node(&page, post)["viewerHasVoted"], false);
        assert_eq!(node(&page, &posts[1])["voteCount"], 0);
    }
    // Comment counts are filled the same way.
    let created = app
        .ok(
            "mutation($i: CreateCommentInput!) { createComment(input: $i) { comment { id } } }",
            json!({ "i": { "postId": posts[1], "content": "댓글 comment" } }),
            Some(&author.access),
        )
        .await;
    let comment = created["createComment"]["comment"]["id"].clone();
    let comments = "query($id: ID!) { post(id: $id) { comments(first: 10) { edges { node { id voteCount } } } } }";
    let id = json!({ "id": posts[1] });
    warm(&app, comments, &id, "").await;
    app.ok(
        "mutation($id: ID!) { voteComment(input: { commentId: $id }) { comment { id } } }",
        json!({ "id": comment }),
        Some(&voter.access),
    )
    .await;
    let (page, _, kept) = read(&app, comments, &id, "").await;
    assert!(kept, "a comment vote made the post be built again");
    assert_eq!(
        page["data"]["post"]["comments"]["edges"][0]["node"]["voteCount"], 1,
        "{page:#}"
    );

    // An edit is not a counter: the page is built again, with the new title and the counts.
    app.ok(
        UPDATE,
        json!({ "i": { "postId": posts[2], "title": "새 제목 new", "content": "본문" } }),
        Some(&author.access),
    )
    .await;
    let (page, _, kept) = read(&app, anonymous, &vars, "").await;
    assert!(!kept, "a kept answer was served after an edit");
    assert_eq!(node(&page, &posts[2])["title"], "새 제목 new");
    assert_eq!(node(&page, &posts[2])["voteCount"], 1);
}

/// Reads of the response cache's slot values since the server started: (counters, a viewer's own values).
async fn slot_reads(app: &TestApp) -> (u64, u64) {
    let text = app.metrics_text().await;
    let sum = |result: &str| {
        text.lines()
            .filter(|l| l.starts_with("board_cache_requests_total{"))
            .filter(|l| {
                l.contains(r#"cache="response""#) && l.contains(&format!(r#"result="{result}""#))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    };
    (sum("counts-read"), sum("own-read"))
}

/// Three members read a page; one votes. Each next read is spliced from the template with the new count and
/// their own values, the others' without the database.
async fn a_vote_reads_again_only_the_values_it_changed(app: TestApp) {
    let author = member(&app, "작가").await;
    let readers = [
        member(&app, "철수kim").await,
        member(&app, "민지").await,
        member(&app, "lee").await,
    ];
    let (vars, posts) = seed(&app, &author).await;
    for reader in &readers {
        warm(&app, PAGE, &vars, &reader.access).await;
    }
    let before = slot_reads(&app).await;
    app.ok(VOTE, json!({ "id": posts[1] }), Some(&readers[0].access))
        .await;
    for (n, reader) in readers.iter().enumerate().rev() {
        let (page, db, kept) = read(&app, PAGE, &vars, &reader.access).await;
        assert!(kept, "reader {n}: built again after a vote: {page:#}");
        // The voter's own entry of that post was deleted by the vote (their answer did not ask for it).
        assert_eq!(db, u64::from(n == 0), "reader {n}: database round trips");
        assert_eq!(node(&page, &posts[1])["voteCount"], 1, "{page:#}");
        assert_eq!(node(&page, &posts[1])["viewerHasVoted"], n == 0);
        assert_eq!(node(&page, &posts[0])["viewerHasVoted"], false);
    }
    // The metric is the whole process's, and `cargo test` runs other tests in it at the same time: only
    // that the reads happened is asserted here. That they are shared and made again only for the entries a
    // vote deleted is asserted exactly beside the mechanism (`slot_values`' unit tests).
    let after = slot_reads(&app).await;
    assert!(
        after.0 > before.0 && after.1 > before.1,
        "the vote made the counters and the voter's own values be read again: {before:?} → {after:?}"
    );
}

/// Two servers on one MariaDB and one Redis: a member's vote or block through one is in their next read
/// through the other, filled from a template another member built there after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
async fn a_vote_or_block_through_another_server_is_in_the_next_filled_read() {
    crate::helpers::require_external();
    let one = TestApp::spawn(crate::helpers::Backend::MariaDb).await;
    let other = one.spawn_beside().await;
    let admin = one.admin().await;
    let author = member(&one, "작가").await;
    let b = member(&one, "민지").await;
    let c = member(&one, "kim").await;
    let (vars, posts) = seed(&one, &author).await;
    warm(&other, PAGE, &vars, &c.access).await;
    warm(&other, PAGE, &vars, &b.access).await;

    one.ok(VOTE, json!({ "id": posts[0] }), Some(&b.access))
        .await;
    let (theirs, _, _) = read(&other, PAGE, &vars, &c.access).await;
    assert_eq!(node(&theirs, &posts[0])["voteCount"], 1);
    assert_eq!(node(&theirs, &posts[0])["viewerHasVoted"], false);
    let (mine, _, kept) = read(&other, PAGE, &vars, &b.access).await;
    assert!(kept, "not filled from C's template");
    assert_eq!(node(&mine, &posts[0])["viewerHasVoted"], true);
    assert_eq!(node(&mine, &posts[0])["voteCount"], 1);

    one.ok(
        "mutation($i: BlockUserInput!) { blockUser(input: $i) { user { id } } }",
        json!({ "i": { "userId": b.user_id } }),
        Some(&admin.access),
    )
    .await;
    warm(&other, PAGE, &vars, &c.access).await;
    let blocked = other.gql(PAGE, vars.clone(), Some(&b.access)).await;
    assert_eq!(code(&blocked), "UNAUTHENTICATED", "{blocked:#}");
}
