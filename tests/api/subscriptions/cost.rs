//! N subscribers of one post cost one resolution per event and process — one cache read (plus, on Redis,
//! the near cache's sync round) and no database query — not N reads. Each variant runs in a process of its own, so the process's counters are this test's.

use crate::helpers::ws::WsClient;
use crate::helpers::{TestApp, unique};
use serde_json::json;

const POST_UPDATED: &str =
    "subscription($p: ID!) { postUpdated(postId: $p) { title voteCount viewerHasVoted } }";

fn counted(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// (resolutions, database round trips, cache round trips) of event resolutions so far.
async fn resolutions(app: &TestApp) -> (f64, f64, f64) {
    let text = app.metrics_text().await;
    let trips = "board_subscriptions_resolution_round_trips_total";
    (
        counted(&text, "board_subscriptions_resolutions_total", ""),
        counted(&text, trips, "store=\"db\""),
        counted(&text, trips, "store=\"cache\""),
    )
}

async fn subscribers_of_one_post_share_one_resolution_per_event(app: TestApp) {
    let name = format!("w{}", &unique("")[..10]);
    let writer = app
        .sign_up(&name, &format!("{name}@example.com"), "password-1")
        .await;
    let category = app.first_category().await;
    let post = app.create_post(&writer.access, &category, "t", "c").await;
    const N: usize = 8;
    let mut clients = Vec::new();
    for i in 0..N {
        // Half anonymous, half the writer: rights differ, the resolution is still shared.
        let token = (i % 2 == 0).then_some(writer.access.as_str());
        let mut client = WsClient::ready(&app.base, token).await;
        client.listen("1", POST_UPDATED, json!({ "p": post })).await;
        clients.push(client);
    }
    for (round, title) in ["v1", "v2", "v3"].into_iter().enumerate() {
        let before = resolutions(&app).await;
        app.ok(
            "mutation($i: UpdatePostInput!) { updatePost(input: $i) { post { id } } }",
            json!({ "i": { "postId": post, "title": title, "content": "c" } }),
            Some(&writer.access),
        )
        .await;
        for client in &mut clients {
            let heard = client.next_of("1").await;
            assert_eq!(heard["data"]["postUpdated"]["title"], title, "{heard:#}");
        }
        let after = resolutions(&app).await;
        assert_eq!(
            after.0 - before.0,
            1.0,
            "round {round}: one resolution per event"
        );
        assert_eq!(after.1 - before.1, 0.0, "round {round}: no database query");
        // One read of the post; on Redis also the near cache's sync round (a marker published and heard
        // back, so a write made through another process is seen).
        let allowed = if app.config.redis_url.is_some() {
            2.0
        } else {
            1.0
        };
        assert!(
            after.2 - before.2 <= allowed,
            "round {round}: {} cache round trips for {N} subscribers",
            after.2 - before.2
        );
    }
}

mod subscribers_of_one_post_share_one_resolution_per_event {
    use crate::helpers::{Backend, TestApp, own_process};

    #[test]
    fn sqlite() {
        own_process::run(module_path!(), "sqlite", || {
            own_process::block_on(async {
                let app = TestApp::spawn(Backend::Sqlite).await;
                super::subscribers_of_one_post_share_one_resolution_per_event(app).await;
            })
        });
    }

    #[test]
    #[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
    fn mariadb_redis() {
        own_process::run(module_path!(), "mariadb_redis", || {
            own_process::block_on(async {
                let app = TestApp::spawn(Backend::MariaDb).await;
                super::subscribers_of_one_post_share_one_resolution_per_event(app).await;
            })
        });
    }
}
