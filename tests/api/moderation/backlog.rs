//! `board_reports_open`: the open reports of the board, counted — it follows reports and resolutions on the
//! process that made them at once. The gauge is global to a process: each variant runs alone in one.

use std::time::Duration;

use super::*;
use crate::helpers::{Backend, own_process};

const RESOLVE: &str =
    "mutation($i: ResolveReportInput!) { resolveReport(input: $i) { report { status } } }";

/// The value of the series `board_reports_open`; `None` while absent.
async fn open_reports(app: &TestApp) -> Option<f64> {
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
        let (series, value) = l.rsplit_once(' ')?;
        let name = series.split_once('{').map_or(series, |(n, _)| n);
        (name == "board_reports_open").then(|| value.parse().unwrap())
    })
}

/// Waits (5 s at most) until the gauge shows `expected`.
async fn shows(app: &TestApp, expected: f64) {
    let mut last = None;
    for _ in 0..50 {
        last = open_reports(app).await;
        if last == Some(expected) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("board_reports_open: expected {expected}, last seen {last:?}");
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
