//! The points budget: every operation spends its cost (what the schema's `@cost` and `@listSize` make it:
//! cost_model.rs) from the budget of the member, or of the anonymous client; past it `RATE_LIMITED` until the window ends. Every
//! answer reports the cost (`extensions.cost`) and the budget (`RateLimit-Policy`, `RateLimit`).

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, code};

configured_tests!(
    a_budget_is_spent_refused_and_whole_again_after_its_window => |c: &mut board::config::RawConfig| {
        c.points_per_window = 50;
        c.points_window_secs = 3;
    },
    kept_answers_are_charged_for_their_viewer => |c: &mut board::config::RawConfig| {
        c.points_per_window = 100_000;
        c.points_window_secs = 3_600;
    },
    each_operation_of_a_batch_spends_and_reports_its_own_cost => |c: &mut board::config::RawConfig| {
        c.points_per_window = 30;
        c.points_window_secs = 3_600;
    },
    an_operation_costlier_than_a_whole_window_never_runs => |c: &mut board::config::RawConfig| {
        c.points_per_window = 10;
        c.points_window_secs = 3_600;
    },
);

/// Costs posts 1 + edges 1 + 5 × (node 1 + author 1) = 12 points.
const PAGE: &str = "{ posts(first: 5) { edges { node { id title author { name } } } } }";
const PAGE_COST: u64 = 12;
/// Costs 1 point whatever it selects.
const RATE_LIMIT: &str = "{ rateLimit { limit cost remaining used resetAt } }";

/// One answer: status, body, and the `RateLimit-Policy`, `RateLimit`, `Retry-After` headers.
struct Answer {
    status: u16,
    body: Value,
    policy: String,
    limit: String,
    retry_after: Option<u64>,
    kept: bool,
}

impl Answer {
    fn cost(&self) -> (u64, u64) {
        let cost = &self.body["extensions"]["cost"];
        (
            cost["requested"]
                .as_u64()
                .unwrap_or_else(|| panic!("no cost: {:#}", self.body)),
            cost["remaining"]
                .as_u64()
                .unwrap_or_else(|| panic!("no cost: {:#}", self.body)),
        )
    }

    /// (r, t) of the `RateLimit` header.
    fn header_numbers(&self) -> (u64, u64) {
        let param = |name: &str| -> u64 {
            self.limit
                .split(';')
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {:?}", self.limit))
        };
        assert!(self.limit.starts_with("\"points\";"), "{}", self.limit);
        (param("r"), param("t"))
    }
}

async fn send(app: &TestApp, query: &str, token: Option<&str>, accept: Option<&str>) -> Answer {
    let mut request = app
        .client()
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": query }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (policy, limit) = (
        header("ratelimit-policy").expect("RateLimit-Policy on every answer"),
        header("ratelimit").expect("RateLimit on every answer"),
    );
    let retry_after = header("retry-after").map(|v| v.parse().unwrap());
    let kept = header("x-answer-kept").is_some();
    Answer {
        status: response.status().as_u16(),
        body: response.json().await.unwrap(),
        policy,
        limit,
        retry_after,
        kept,
    }
}

/// Waits for the start of a fixed window of `secs` seconds (windows are counted from the epoch) unless at
/// least `needed` of the current one are left.
async fn fresh_window(secs: u64, needed: Duration) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let into = Duration::from_millis((now.as_millis() % u128::from(secs * 1000)) as u64);
    let left = Duration::from_secs(secs) - into;
    if left < needed {
        tokio::time::sleep(left + Duration::from_millis(50)).await;
    }
}

async fn a_budget_is_spent_refused_and_whole_again_after_its_window(app: TestApp) {
    // Signing up spends the anonymous client's points: in a window before the scenario's.
    let member = app
        .sign_up("점수kim", "points@example.com", "password-1")
        .await;
    fresh_window(3, Duration::from_secs(3)).await;

    // 50 points, 12 a page: four pages, each reporting the same numbers in its body and headers.
    let mut remaining = 50;
    for _ in 0..4 {
        let answer = send(&app, PAGE, None, None).await;
        assert_eq!(answer.status, 200);
        assert!(answer.body.get("errors").is_none(), "{:#}", answer.body);
        remaining -= PAGE_COST;
        assert_eq!(answer.cost(), (PAGE_COST, remaining));
        assert_eq!(answer.policy, "\"points\";q=50;w=3");
        let (r, t) = answer.header_numbers();
        assert_eq!(r, remaining);
        assert!((1..=3).contains(&t), "t={t}");
    }

    // The fifth does not fit (2 left): refused, and the refusal spends nothing.
    let refused = send(&app, PAGE, None, None).await;
    assert_eq!(
        refused.status, 200,
        "a GraphQL error under application/json"
    );
    assert_eq!(code(&refused.body), "RATE_LIMITED", "{:#}", refused.body);
    let wait = refused.body["errors"][0]["extensions"]["retryAfterSeconds"]
        .as_u64()
        .expect("retryAfterSeconds");
    assert!((1..=3).contains(&wait), "{wait}");
    assert_eq!(refused.cost(), (PAGE_COST, 2));
    assert!(refused.body["data"].is_null(), "{:#}", refused.body);
    assert_eq!(refused.retry_after, None, "no Retry-After on a 200");

    // Under application/graphql-response+json: 429 with Retry-After.
    let refused = send(&app, PAGE, None, Some("application/graphql-response+json")).await;
    assert_eq!(refused.status, 429, "{:#}", refused.body);
    assert_eq!(code(&refused.body), "RATE_LIMITED");
    assert!(refused.body.get("data").is_none(), "{:#}", refused.body);
    let retry_after = refused.retry_after.expect("Retry-After on a 429");
    assert!((1..=3).contains(&retry_after), "{retry_after}");
    assert_eq!(refused.cost(), (PAGE_COST, 2));

    // `rateLimit` costs 1 and fits: its numbers are the headers'.
    let limits = send(&app, RATE_LIMIT, None, None).await;
    let rate = &limits.body["data"]["rateLimit"];
    assert_eq!(rate["limit"], 50, "{:#}", limits.body);
    assert_eq!(rate["cost"], 1);
    assert_eq!(rate["remaining"], 1);
    assert_eq!(rate["used"], 49);
    assert_eq!(limits.cost(), (1, 1));
    let (r, t) = limits.header_numbers();
    assert_eq!(r, 1);
    let reset_at = chrono::DateTime::parse_from_rfc3339(rate["resetAt"].as_str().unwrap()).unwrap();
    let until = (reset_at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds();
    assert!(
        (until - t as i64 * 1000).abs() <= 1_500,
        "resetAt is {until} ms away, RateLimit says t={t}"
    );

    // A member has a budget of their own.
    let signed_in = send(&app, PAGE, Some(&member.access), None).await;
    assert!(
        signed_in.body.get("errors").is_none(),
        "{:#}",
        signed_in.body
    );
    assert_eq!(signed_in.cost(), (PAGE_COST, 50 - PAGE_COST));

    // Once the window is over the client's budget is whole again.
    tokio::time::sleep(Duration::from_secs(retry_after) + Duration::from_millis(100)).await;
    let again = send(&app, PAGE, None, None).await;
    assert!(again.body.get("errors").is_none(), "{:#}", again.body);
    assert_eq!(again.cost(), (PAGE_COST, 50 - PAGE_COST));
}

async fn kept_answers_are_charged_for_their_viewer(app: TestApp) {
    let member = app
        .sign_up("보관kim", "kept@example.com", "password-1")
        .await;
    let category = app.first_category().await;
    app.create_post(&member.access, &category, "kept", "body")
        .await;
    fresh_window(3_600, Duration::from_secs(60)).await;
    let used = |a: &Answer| a.body["data"]["rateLimit"]["used"].as_u64().unwrap();
    let member_before = used(&send(&app, RATE_LIMIT, Some(&member.access), None).await);

    // Warm until the page is answered from the kept answers: each answer still spends its cost, and
    // reports the remaining of this request, not of the one that built the answer.
    for token in [None, Some(member.access.as_str())] {
        let mut previous: Option<u64> = None;
        let mut kept = None;
        for _ in 0..6 {
            let answer = send(&app, PAGE, token, None).await;
            assert!(answer.body.get("errors").is_none(), "{:#}", answer.body);
            let (requested, remaining) = answer.cost();
            assert_eq!(requested, PAGE_COST);
            if let Some(previous) = previous {
                assert_eq!(remaining, previous - PAGE_COST, "{:#}", answer.body);
            }
            assert_eq!(answer.header_numbers().0, remaining);
            previous = Some(remaining);
            if answer.kept {
                kept = Some(answer);
            }
        }
        let kept =
            kept.unwrap_or_else(|| panic!("never answered from the kept answers ({token:?})"));
        assert_eq!(
            kept.body["data"]["posts"]["edges"][0]["node"]["title"],
            "kept"
        );
    }

    // The member paid for their six pages (and this `rateLimit`), nothing of the client's six.
    let member_after = used(&send(&app, RATE_LIMIT, Some(&member.access), None).await);
    assert_eq!(member_after, member_before + 6 * PAGE_COST + 1);
}

async fn an_operation_costlier_than_a_whole_window_never_runs(app: TestApp) {
    let answer = send(&app, PAGE, None, None).await;
    assert_eq!(code(&answer.body), "QUERY_TOO_COMPLEX", "{:#}", answer.body);
    let message = answer.body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("12 points"), "{message}");
    // It spent nothing: a cheap one still fits.
    let cheap = send(&app, RATE_LIMIT, None, None).await;
    assert_eq!(
        cheap.body["data"]["rateLimit"]["remaining"], 9,
        "{:#}",
        cheap.body
    );
    assert_eq!(cheap.policy, "\"points\";q=10;w=3600");
}

/// While the shared counters are down the budget is counted in the process, with the same numbers: never off,
/// and going on from what the process spent before the outage, not from a whole budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn a_redis_outage_counts_points_in_the_process() {
    use crate::helpers::Backend;
    use crate::helpers::redis::{OwnRedis, free_port, redis_binary};
    let Some(binary) = redis_binary() else {
        panic!("redis-server is not installed: install it (apt-get install redis-server)");
    };
    let port = free_port();
    let mut redis = OwnRedis::start(&binary, port);
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.redis_url = Some(format!("redis://127.0.0.1:{port}/0"));
        c.cache_timeout_ms = 200;
        c.points_per_window = 50;
        c.points_window_secs = 3_600;
    })
    .await;
    fresh_window(3_600, Duration::from_secs(120)).await;
    let first = send(&app, PAGE, None, None).await;
    assert_eq!(
        first.cost(),
        (PAGE_COST, 50 - PAGE_COST),
        "{:#}",
        first.body
    );

    // Redis dies: the process counts on with the same budget (at worst N× looser with N replicas), from
    // the points it already spent.
    redis.kill();
    let mut remaining = 50 - PAGE_COST;
    for _ in 0..3 {
        let answer = send(&app, PAGE, None, None).await;
        assert!(answer.body.get("errors").is_none(), "{:#}", answer.body);
        remaining -= PAGE_COST;
        assert_eq!(answer.cost(), (PAGE_COST, remaining));
        assert_eq!(answer.header_numbers().0, remaining);
    }
    let refused = send(&app, PAGE, None, None).await;
    assert_eq!(code(&refused.body), "RATE_LIMITED", "{:#}", refused.body);
    let metrics = app.metrics_text().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("board_limiter_fallbacks_total") && !l.ends_with(" 0")),
        "the fallback is counted: {metrics}"
    );
}

/// A batch of two pages and a `rateLimit` under 30 points: the pages spend 12 each, in order; the third
/// fits; a fourth page does not, and only that element is refused.
async fn each_operation_of_a_batch_spends_and_reports_its_own_cost(app: TestApp) {
    fresh_window(3_600, Duration::from_secs(60)).await;
    let page = json!({ "query": PAGE });
    let batch = json!([page, page, { "query": RATE_LIMIT }, page]);
    let response = app.post(&batch, None).await;
    assert_eq!(response.status(), 200);
    let limit = response.headers()["ratelimit"].to_str().unwrap().to_owned();
    let answers: Vec<Value> = response.json().await.unwrap();
    let costs: Vec<u64> = answers
        .iter()
        .map(|a| a["extensions"]["cost"]["requested"].as_u64().unwrap())
        .collect();
    assert_eq!(
        costs,
        vec![PAGE_COST, PAGE_COST, 1, PAGE_COST],
        "{answers:#?}"
    );
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|a| a.get("errors").is_some())
        .collect();
    assert_eq!(refused.len(), 1, "{answers:#?}");
    assert_eq!(code(refused[0]), "RATE_LIMITED");
    // 24 + 1 spent, whatever the order the elements ran in: 5 left, in the header too.
    assert!(limit.contains(";r=5;"), "{limit}");
    let left = send(&app, RATE_LIMIT, None, None).await;
    assert_eq!(
        left.body["data"]["rateLimit"]["used"], 26,
        "{:#}",
        left.body
    );
}
