//! `board_reports_open`: the open reports of the board, counted — it follows reports and resolutions on the
//! process that made them at once. The gauge is global to a process: each variant runs alone in one.

use std::time::Duration;

use super::*;
use crate::helpers::{Backend, own_process};

const RESOLVE: &str =
    "mutation($i: ResolveReportInput!) { resolveReport(input: $i) { report { status } } }";

/// The value of the series `series` (its name and labels as `/metrics` prints them); `None` while absent.
async fn gauge(app: &TestApp, series: &str) -> Option<f64> {
    let text = app
        .client()
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (found, value) = l.rsplit_once(' ')?;
        let plain = found.split_once('{').map_or(found, |(n, _)| n);
        let labels: String = found
            .split_once('{')
            .map(|(_, l)| {
                l.trim_end_matches('}')
                    .split(',')
                    .filter(|p| !p.starts_with("otel_scope"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        let named = if labels.is_empty() {
            plain.to_owned()
        } else {
            format!("{plain}{{{labels}}}")
        };
        (named == series).then(|| value.parse().unwrap())
    })
}

/// Waits (5 s at most) until `series` shows `expected`.
async fn shows_in(app: &TestApp, series: &str, expected: f64) {
    let mut last = None;
    for _ in 0..50 {
        last = gauge(app, series).await;
        if last == Some(expected) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{series}: expected {expected}, last seen {last:?}");
}

async fn shows(app: &TestApp, expected: f64) {
    shows_in(app, "board_reports_open", expected).await;
}

async fn report(app: &TestApp, by: &Session, subject: &str) -> String {
    app.ok(
        "mutation($i: ReportContentInput!) { reportContent(input: $i) { report { id } } }",
        json!({ "i": { "subjectId": subject, "reason": "SPAM" } }),
        Some(&by.access),
    )
    .await["reportContent"]["report"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn run(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = world(&app).await;
    shows(&app, 0.0).await;
    let mut reports = Vec::new();
    for n in 0..3 {
        let post = app
            .create_post(&w.author.access, &w.tech, &format!("신고 {n}"), "본문")
            .await;
        reports.push(report(&app, &w.member, &post).await);
    }
    shows(&app, 3.0).await;
    let dismissed = app
        .ok(
            RESOLVE,
            json!({ "i": { "reportId": reports[0], "action": "DISMISS" } }),
            Some(&w.moderator.access),
        )
        .await;
    assert_eq!(dismissed["resolveReport"]["report"]["status"], "DISMISSED");
    shows(&app, 2.0).await;

    // A resolution that removes the post closes its report too.
    app.ok(
        RESOLVE,
        json!({ "i": { "reportId": reports[1], "action": "REMOVE" } }),
        Some(&w.moderator.access),
    )
    .await;
    shows(&app, 1.0).await;

    // Removing and banning: no report left open, one category ban in force (board-wide: none).
    app.ok(
        RESOLVE,
        json!({ "i": { "reportId": reports[2], "action": "REMOVE_AND_BAN" } }),
        Some(&w.moderator.access),
    )
    .await;
    shows(&app, 0.0).await;
    shows_in(&app, "board_bans_active{scope=\"category\"}", 1.0).await;
    shows_in(&app, "board_bans_active{scope=\"board\"}", 0.0).await;
}

#[test]
fn the_backlog_gauge_counts_open_reports_on_sqlite() {
    own_process::run(
        module_path!(),
        "the_backlog_gauge_counts_open_reports_on_sqlite",
        || own_process::block_on(run(Backend::Sqlite)),
    );
}

#[test]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
fn the_backlog_gauge_counts_open_reports_on_mariadb_and_redis() {
    own_process::run(
        module_path!(),
        "the_backlog_gauge_counts_open_reports_on_mariadb_and_redis",
        || own_process::block_on(run(Backend::MariaDb)),
    );
}
