//! The hot read path in process: a warm `post(id:)` with title, content, author, category and vote count,
//! anonymous and signed in (with the viewer's `viewerHasVoted` and `viewerCanEdit`), through the whole router (request id, metrics, document cache, validation, DataLoaders, near cache, JSON)
//! but without sockets and without a log subscriber, so what the load benchmark's kernel, load generator and
//! log writes cost is not in it. Embedded default (SQLite file + in-process cache), 200 seeded posts, read
//! in turn.
//!
//! `cargo bench --bench hot_path`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use base64::Engine;
use board::adapters::sql::seed::{SeedOptions, seed};
use board::config::RawConfig;
use criterion::{Criterion, criterion_group, criterion_main};
use tower::ServiceExt;

/// The allocator the `board` binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const POSTS: usize = 200;
const QUERY: &str = "query PostById($id: ID!) { post(id: $id) { title content author { name } category { name } voteCount } }";
const SIGNED_IN: &str = "query PostById($id: ID!) { post(id: $id) { title content author { name } category { name } \
     voteCount viewerHasVoted viewerCanEdit } }";
const SIGN_UP: &str = "mutation { signUp(input: { name: \"bench독자\", email: \"reader@example.com\", \
     password: \"correct horse battery\" }) { accessToken } }";

fn body_for(query: &str, post: usize) -> String {
    let id = base64::engine::general_purpose::STANDARD.encode(format!("Post:{post}"));
    serde_json::json!({ "query": query, "variables": { "id": id } }).to_string()
}

/// Sends `body` (as the holder of `token`, if any) and answers the response body, which has no errors.
async fn send(router: axum::Router, body: String, token: Option<&str>) -> axum::body::Bytes {
    let mut request =
        axum::http::Request::post("/graphql").header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert!(
        !bytes.windows(8).any(|w| w == b"\"errors\""),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    bytes
}

fn warm_post_by_id(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("board-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let database = dir.join("board.db");
    let router = runtime.block_on(async {
        let config = RawConfig {
            database_url: format!("sqlite://{}", database.display()),
            // Millions of reads from one client address: a points budget they cannot exhaust.
            points_per_window: 1 << 50,
            ..RawConfig::default()
        };
        let app = board::App::build(config).await.unwrap();
        let options = SeedOptions {
            users: 20,
            posts: POSTS,
            comments_per_post: 0,
            votes_per_post: 3,
        };
        seed(&app.db, &options, "not-a-real-hash", chrono::Utc::now())
            .await
            .unwrap();
        app.router()
    });
    let token = runtime.block_on(async {
        let body = serde_json::json!({ "query": SIGN_UP }).to_string();
        let answer: serde_json::Value =
            serde_json::from_slice(&send(router.clone(), body, None).await).unwrap();
        answer["data"]["signUp"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned()
    });
    for (name, query, token) in [
        ("warm post(id:) through the router", QUERY, None),
        (
            "warm signed-in post(id:) with viewer fields through the router",
            SIGNED_IN,
            Some(token.as_str()),
        ),
    ] {
        let bodies: Vec<String> = (1..=POSTS).map(|post| body_for(query, post)).collect();
        // Warm every post once: the measured reads are all hits.
        runtime.block_on(async {
            for body in &bodies {
                send(router.clone(), body.clone(), token).await;
            }
        });
        let next = AtomicUsize::new(0);
        c.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| {
                let i = next.fetch_add(1, Ordering::Relaxed) % POSTS;
                send(router.clone(), bodies[i].clone(), token)
            });
        });
    }
    drop(router);
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the near cache saves on a hit: it hands out the decoded post (an `Arc` clone), where a cache of
/// texts would decode the JSON again on every read (a warm page's rebuild reads 20 posts, their authors and
/// categories).
fn near_hit_against_decoding(c: &mut Criterion) {
    use std::sync::Arc;
    use std::time::Duration;

    use board::adapters::cache::MemoryCache;
    use board::app::near_cache::NearCache;
    use board::domain::Post;

    let content = "철수kim의 글: 보드 서버를 Rust로 옮겼다. Latin and 한글 mixed. ".repeat(12);
    let text = serde_json::json!({
        "id": 42, "author_id": 7, "category_id": 3,
        "created_at": "2026-12-01T09:00:00Z", "updated_at": "2026-12-01T09:30:00Z",
        "is_active": true, "title": "첫 글 🦀 first post", "content": content,
        "content_html": format!("<p>{content}</p>"), "version": 2,
        "vote_count": 17, "comment_count": 5, "top_comment_count": 3,
    })
    .to_string();
    let post: Post = serde_json::from_str(&text).unwrap();
    let near = NearCache::start(
        Duration::from_secs(60),
        1_000,
        Arc::new(MemoryCache::new(1_000, 1 << 20)),
    );
    near.keep(near.generation(), "post:42", Some(Arc::new(post)));
    c.bench_function("decode one cached post from its JSON text", |b| {
        b.iter(|| serde_json::from_str::<Post>(std::hint::black_box(&text)).unwrap())
    });
    c.bench_function("near cache hit of one decoded post", |b| {
        b.iter(|| {
            near.get::<Arc<Post>>(std::hint::black_box("post:42"))
                .unwrap()
        })
    });
}

criterion_group!(benches, warm_post_by_id, near_hit_against_decoding);
criterion_main!(benches);
