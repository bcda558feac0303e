//! Search and counts at scale: case folding for every script, the plan chosen per query (seen through the
//! database round trips), counters that follow every write, and warm first pages served from the cache.

use crate::helpers::TestApp;
use board::adapters::sql::Db;
use board::adapters::sql::seed::{SeedOptions, seed};
use serde_json::{Value, json};

backend_tests!(
    search_folds_case_for_every_script,
    search_picks_the_index_for_rare_terms_and_walks_for_common_ones,
    warm_first_pages_cost_no_round_trip_and_follow_writes,
);

const SEARCH: &str = "query($s: String, $c: ID, $after: String) { posts(search: $s, categoryId: $c, first: 20, after: $after) { \
     pageInfo { hasNextPage endCursor } nodes { id title } } }";
const SEARCH_COUNT: &str =
    "query($s: String) { posts(search: $s, first: 1) { totalCount nodes { id } } }";
const SEARCH_FIRST: &str = "query($s: String) { posts(search: $s, first: 1) { nodes { id } } }";

/// A search's `totalCount` and the database round trips the count alone cost (the same page without it
/// runs first, so its posts are cached and its list costs the same both times).
async fn counted(app: &TestApp, term: &str) -> (Value, u64) {
    let (_, without, _) = app
        .gql_counted(SEARCH_FIRST, json!({ "s": term }), None)
        .await;
    let (body, with, _) = app
        .gql_counted(SEARCH_COUNT, json!({ "s": term }), None)
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    (body["data"]["posts"]["totalCount"].clone(), with - without)
}

fn titles(data: &Value) -> Vec<String> {
    data["posts"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn search_titles(app: &TestApp, term: &str) -> Vec<String> {
    titles(&app.ok(SEARCH, json!({ "s": term }), None).await)
}

async fn search_folds_case_for_every_script(app: TestApp) {
    let user = app
        .sign_up("folder", "folder@example.com", "password-1")
        .await;
    let category = app.first_category().await;
    app.create_post(&user.access, &category, "ÄÖÜ", "umlauts")
        .await;
    app.create_post(&user.access, &category, "greek", "ΣΑΣ and ДОСКА")
        .await;
    app.create_post(&user.access, &category, "게시판에서 만나요", "Hello")
        .await;
    app.create_post(&user.access, &category, "sale", "50% OFF_NOW")
        .await;
    app.create_post(&user.access, &category, "ｆｕｌｌ", "ＷＩＤＴＨ")
        .await;

    assert_eq!(search_titles(&app, "äöü").await, ["ÄÖÜ"]);
    assert_eq!(search_titles(&app, "ÄöÜ").await, ["ÄÖÜ"]);
    assert_eq!(search_titles(&app, "σασ").await, ["greek"]);
    assert_eq!(search_titles(&app, "доска").await, ["greek"]);
    // Korean has no word boundaries: a particle attached to the noun does not hide it.
    assert_eq!(search_titles(&app, "게시판").await, ["게시판에서 만나요"]);
    assert_eq!(search_titles(&app, "hELLO").await, ["게시판에서 만나요"]);
    assert_eq!(search_titles(&app, "ｗｉｄｔｈ").await, ["ｆｕｌｌ"]);
    // Wildcards stay literal, in any case.
    assert_eq!(search_titles(&app, "50% off_").await, ["sale"]);
    assert!(search_titles(&app, "50%%").await.is_empty());
    // Title and content are searched apart: no match across their border.
    assert!(search_titles(&app, "ÜUM").await.is_empty());
    // Accents are not folded away: exact letters only.
    assert!(search_titles(&app, "aou").await.is_empty());

    // An edit changes what search sees.
    let id = app
        .ok(
            "{ posts(search: \"äöü\") { nodes { id } } }",
            json!({}),
            None,
        )
        .await["posts"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok(
        "mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { version } } }",
        json!({ "i": { "postId": id, "title": "Ωmega", "content": "ÉCOLE" } }),
        Some(&user.access),
    )
    .await;
    assert!(search_titles(&app, "äöü").await.is_empty());
    assert_eq!(search_titles(&app, "école").await, ["Ωmega"]);
    assert_eq!(search_titles(&app, "ω").await, ["Ωmega"]);
}

const SEEDED: usize = 2500;

/// 2 500 seeded posts ("Demo post #n", content "… demo post number n, …", "게시판" in every one), newest last.
async fn seeded(app: &TestApp) {
    let db = Db::connect(&board::config::Config::from(&app.config).db)
        .await
        .unwrap();
    let options = SeedOptions {
        users: 10,
        posts: SEEDED,
        comments_per_post: 0,
        votes_per_post: 0,
    };
    seed(&db, &options, "x", chrono::Utc::now()).await.unwrap();
    db.close().await;
}

async fn search_picks_the_index_for_rare_terms_and_walks_for_common_ones(app: TestApp) {
    seeded(&app).await;

    // A term in every post: the first window of the list fills the page — one round trip for the list,
    // one for the posts.
    let (body, db, _) = app
        .gql_counted(SEARCH, json!({ "s": "게시판" }), None)
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(titles(&body["data"])[0], format!("Demo post #{SEEDED}"));
    assert_eq!(db, 2, "a common term walks the list");

    // A rare term, older than the first window: the walk gives up after the window, the index answers.
    let (body, db, _) = app
        .gql_counted(SEARCH, json!({ "s": "NUMBER 17," }), None)
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(titles(&body["data"]), ["Demo post #17"]);
    assert_eq!(db, 3, "a rare term goes through the index after one window");

    // The index keeps the list's order and keyset pages: "number 17" is in posts 17, 170–179, 1700–1799.
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .ok(SEARCH, json!({ "s": "number 17", "after": after }), None)
            .await;
        seen.extend(titles(&data));
        if !data["posts"]["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = data["posts"]["pageInfo"]["endCursor"].clone();
    }
    let expected: Vec<String> = (1700..=1799)
        .rev()
        .chain((170..=179).rev())
        .chain([17])
        .map(|n| format!("Demo post #{n}"))
        .collect();
    assert_eq!(seen, expected);

    // Within a category (and its descendants) through the index too. The seed puts post n into the leaf
    // categories round-robin (tech, career, life, news): the root `qna` holds those with (n - 1) % 4 < 2.
    let root = app.first_category().await;
    let in_root = app
        .ok(SEARCH, json!({ "s": "number 17", "c": root }), None)
        .await;
    let wanted: Vec<String> = expected
        .iter()
        .filter(|t| {
            let n: usize = t.trim_start_matches("Demo post #").parse().unwrap();
            (n - 1) % 4 < 2
        })
        .take(20)
        .cloned()
        .collect();
    assert_eq!(titles(&in_root), wanted);

    // Counts: exact, through the index for the rare term (one round trip), by walking for the common one.
    let (total, db) = counted(&app, "number 17").await;
    assert_eq!((total, db), (json!(111), 2), "window probe, then the index");
    let (total, db) = counted(&app, "게시판").await;
    assert_eq!(
        (total, db),
        (json!(SEEDED), 2),
        "window probe, then the bounded walk"
    );
    let (total, db) = counted(&app, "#").await;
    assert_eq!(
        (total, db),
        (json!(SEEDED), 2),
        "one character: window probe, then the bounded walk"
    );

    // The seeded counters agree with the rows.
    let all = app
        .ok("{ posts(first: 1) { totalCount } }", json!({}), None)
        .await;
    assert_eq!(all["posts"]["totalCount"], SEEDED);
}

const CATEGORY_PAGE: &str = "query($c: ID) { posts(categoryId: $c, first: 20) { totalCount \
     pageInfo { hasNextPage } edges { node { id title voteCount commentCount author { name } category { name } } } } }";

fn page_titles(data: &Value) -> Vec<String> {
    data["posts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect()
}

/// (totalCount, titles, database round trips) of the first page of `category`'s newest posts.
async fn category_page(app: &TestApp, category: &Value) -> (i64, Vec<String>, u64) {
    let (body, db, _) = app
        .gql_counted(CATEGORY_PAGE, json!({ "c": category }), None)
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let data = &body["data"];
    (
        data["posts"]["totalCount"].as_i64().unwrap(),
        page_titles(data),
        db,
    )
}

async fn warm_first_pages_cost_no_round_trip_and_follow_writes(app: TestApp) {
    let admin = app.admin().await;
    let user = app
        .sign_up("pager", "pager@example.com", "password-1")
        .await;
    let tree = app
        .ok(
            "{ categories { id name children { id name } } }",
            json!({}),
            None,
        )
        .await;
    let (qna, community) = (&tree["categories"][0]["id"], &tree["categories"][1]["id"]);
    let tech = tree["categories"][0]["children"][0]["id"].as_str().unwrap();
    let life = tree["categories"][1]["children"][0]["id"].as_str().unwrap();
    let mut ids = Vec::new();
    for n in 0..25 {
        let category = if n % 5 == 0 { life } else { tech };
        ids.push(
            app.create_post(&user.access, category, &format!("p{n}"), "x")
                .await,
        );
    }

    let (total, titles, _) = category_page(&app, qna).await;
    assert_eq!(total, 20);
    assert_eq!(titles[0], "p24");
    let (total, titles, db) = category_page(&app, qna).await;
    assert_eq!(
        (total, titles.len(), db),
        (20, 20, 0),
        "a warm first page reads no database"
    );

    // A new post in a child category shows on the root's first page at once.
    let new = app.create_post(&user.access, tech, "fresh", "x").await;
    let (total, titles, _) = category_page(&app, qna).await;
    assert_eq!((total, titles[0].as_str()), (21, "fresh"));
    let (_, _, db) = category_page(&app, qna).await;
    assert_eq!(db, 0);

    // A deleted one leaves it.
    app.ok(
        "mutation($i: DeletePostInput!) { deletePost(input: $i) { deletedId } }",
        json!({ "i": { "postId": new } }),
        Some(&user.access),
    )
    .await;
    let (total, titles, _) = category_page(&app, qna).await;
    assert_eq!((total, titles[0].as_str()), (20, "p24"));

    // Moving `tech` below `community` moves its 20 posts from one root's page to the other's.
    let (total, _, _) = category_page(&app, community).await;
    assert_eq!(total, 5);
    app.ok(
        "mutation($i: UpdateCategoryInput!) { updateCategory(input: $i) { category { id } } }",
        json!({ "i": { "categoryId": tech, "parentId": community } }),
        Some(&admin.access),
    )
    .await;
    let (total, titles, _) = category_page(&app, qna).await;
    assert_eq!((total, titles.len()), (0, 0));
    let (total, titles, _) = category_page(&app, community).await;
    assert_eq!((total, titles.len(), titles[0].as_str()), (25, 20, "p24"));
    let (_, _, db) = category_page(&app, community).await;
    assert_eq!(db, 0);

    // All posts, and the author's counters.
    let all = app
        .ok("{ posts(first: 5) { totalCount } }", json!({}), None)
        .await;
    assert_eq!(all["posts"]["totalCount"], 25);
    let post = &ids[0];
    app.ok(
        "mutation($i: CreateCommentInput!) { createComment(input: $i) { comment { id } } }",
        json!({ "i": { "postId": post, "content": "c" } }),
        Some(&user.access),
    )
    .await;
    let me = app
        .ok(
            "{ viewer { posts(first: 1) { totalCount } comments(first: 1) { totalCount } } }",
            json!({}),
            Some(&user.access),
        )
        .await;
    assert_eq!(me["viewer"]["posts"]["totalCount"], 25);
    assert_eq!(me["viewer"]["comments"]["totalCount"], 1);
    app.ok(
        "mutation($i: DeletePostInput!) { deletePost(input: $i) { deletedId } }",
        json!({ "i": { "postId": ids[1] } }),
        Some(&admin.access),
    )
    .await;
    let me = app
        .ok(
            "{ viewer { posts(first: 1) { totalCount } } }",
            json!({}),
            Some(&user.access),
        )
        .await;
    assert_eq!(me["viewer"]["posts"]["totalCount"], 24);
}
