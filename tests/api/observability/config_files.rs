//! The files under `observability/` agree with what the server serves: every metric that the Grafana
//! dashboard and the Prometheus alert rules query is in `GET /metrics` of a real server, and the Prometheus,
//! Grafana and Logstash configurations hold together (rule file loaded, data source uid, json_lines input).

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::promql::{family, metric_names, synthetic};
use crate::helpers::{Backend, TestApp};
use serde_json::{Value, json};
use serde_norway::Value as Yaml;

fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn yaml(relative: &str) -> Yaml {
    serde_norway::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn dashboard() -> Value {
    let relative = "observability/grafana/dashboards/board.json";
    serde_json::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

// ---------------------------------------------------------------------------------------------------------------
// The queries of the dashboard and the alerts
// ---------------------------------------------------------------------------------------------------------------

/// Every panel of the dashboard, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in list.as_array().into_iter().flatten() {
            out.push(panel);
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

fn dashboard_exprs() -> Vec<String> {
    let dashboard = dashboard();
    let exprs: Vec<String> = panels(&dashboard)
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .map(|t| {
            t["expr"]
                .as_str()
                .expect("every target has a PromQL expr")
                .to_owned()
        })
        .collect();
    assert!(!exprs.is_empty(), "the dashboard has no queries");
    exprs
}

fn alert_rules() -> Vec<Yaml> {
    let alerts = yaml("observability/alerts.yml");
    let groups = alerts["groups"]
        .as_sequence()
        .expect("alerts.yml has groups");
    groups
        .iter()
        .flat_map(|g| {
            g["rules"]
                .as_sequence()
                .expect("every group has rules")
                .clone()
        })
        .collect()
}

fn alert_exprs() -> Vec<String> {
    alert_rules()
        .iter()
        .map(|r| {
            r["expr"]
                .as_str()
                .expect("every rule has an expr")
                .to_owned()
        })
        .collect()
}

/// The metric names the dashboard and the alert rules query, Prometheus' own series left out.
fn queried_metrics() -> BTreeSet<String> {
    dashboard_exprs()
        .iter()
        .chain(alert_exprs().iter())
        .flat_map(|e| metric_names(e))
        .filter(|name| !synthetic(name))
        .collect()
}

#[test]
fn the_dashboard_uses_the_prometheus_data_source_and_has_the_panels() {
    let dashboard = dashboard();
    let panels = panels(&dashboard);
    let mut ids = BTreeSet::new();
    for panel in &panels {
        let title = panel["title"].as_str().unwrap();
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "duplicate panel id: {title}"
        );
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "prometheus", "{title}");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title} has no query");
        for target in targets {
            assert_eq!(target["datasource"]["uid"], "prometheus", "{title}");
        }
    }
    let titles: Vec<&str> = panels
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    for wanted in [
        "Request rate",
        "Latency p50 / p99",
        "GraphQL errors by code",
        "Cache hit ratio per cache",
        "DB round trips per request",
        "Pool saturation",
        "Logins by outcome",
        "Token refreshes by outcome",
        "Memory (RSS)",
        "Log lines dropped",
    ] {
        assert!(
            titles.contains(&wanted),
            "no panel {wanted:?} in {titles:?}"
        );
    }
    // Round trips per request: p50 and p99 from the histogram, and the mean from _sum / _count.
    let round_trips = panels
        .iter()
        .find(|p| p["title"] == "DB round trips per request")
        .unwrap();
    let exprs: Vec<&str> = round_trips["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["expr"].as_str().unwrap())
        .collect();
    assert!(exprs.iter().any(
        |e| e.contains("histogram_quantile(0.5,") && e.contains("board_db_round_trips_bucket")
    ));
    assert!(exprs.iter().any(
        |e| e.contains("histogram_quantile(0.99,") && e.contains("board_db_round_trips_bucket")
    ));
    assert!(exprs.iter().any(
        |e| e.contains("board_db_round_trips_sum") && e.contains("board_db_round_trips_count")
    ));

    let provisioned = yaml("observability/grafana/provisioning/datasources/prometheus.yml");
    let source = &provisioned["datasources"][0];
    assert_eq!(source["uid"].as_str(), Some("prometheus"));
    assert_eq!(source["type"].as_str(), Some("prometheus"));
    assert_eq!(source["url"].as_str(), Some("http://prometheus:9090"));
    let providers = yaml("observability/grafana/provisioning/dashboards/board.yml");
    let provider = &providers["providers"][0];
    assert_eq!(provider["type"].as_str(), Some("file"));
    assert_eq!(
        provider["options"]["path"].as_str(),
        Some("/var/lib/grafana/dashboards")
    );
}

#[test]
fn the_alert_rules_are_complete() {
    let rules = alert_rules();
    let mut names = BTreeSet::new();
    for rule in &rules {
        let name = rule["alert"].as_str().expect("only alerting rules");
        assert!(names.insert(name.to_owned()), "duplicate alert {name}");
        assert!(
            rule["labels"]["severity"].as_str().is_some(),
            "{name} has no severity"
        );
        assert!(
            rule["annotations"]["summary"].as_str().is_some(),
            "{name} has no summary"
        );
    }
    let rule = |name: &str| {
        rules
            .iter()
            .find(|r| r["alert"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no alert {name}"))
    };
    for (name, wait, needle) in [
        (
            "BoardGraphqlErrorRateHigh",
            "5m",
            "board_graphql_operations_total",
        ),
        (
            "BoardGraphqlLatencyHigh",
            "10m",
            "http_server_request_duration_seconds_bucket",
        ),
        ("BoardCacheHitRatioLow", "15m", "board_cache_requests_total"),
        ("BoardReplicaDown", "2m", "up{job=\"board\"}"),
        (
            "BoardLogLinesDropped",
            "5m",
            "board_log_lines_dropped_total",
        ),
        ("BoardDbPoolSaturated", "5m", "board_pool_max_connections"),
    ] {
        let rule = rule(name);
        assert_eq!(rule["for"].as_str(), Some(wait), "{name}");
        assert!(rule["expr"].as_str().unwrap().contains(needle), "{name}");
    }
    // Client mistakes are not server errors.
    let errors = rule("BoardGraphqlErrorRateHigh")["expr"].as_str().unwrap();
    for code in [
        "BAD_USER_INPUT",
        "UNAUTHENTICATED",
        "NOT_FOUND",
        "FORBIDDEN",
        "CONFLICT",
    ] {
        assert!(errors.contains(code), "the error rate counts {code}");
    }
}

#[test]
fn prometheus_loads_the_rules_and_scrapes_both_replicas() {
    let config = yaml("observability/prometheus.yml");
    let rule_files: Vec<&str> = config["rule_files"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(rule_files, ["alerts.yml"]);
    let jobs = config["scrape_configs"].as_sequence().unwrap();
    let job = |name: &str| {
        jobs.iter()
            .find(|j| j["job_name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no scrape job {name}"))
    };
    let board = job("board");
    assert_eq!(board["metrics_path"].as_str(), Some("/metrics"));
    let targets: Vec<&str> = board["static_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|s| s["targets"].as_sequence().unwrap())
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(targets, ["board-1:8080", "board-2:8080"]);
    job("prometheus");
}

#[test]
fn logstash_reads_json_lines_on_5044_and_keeps_unparsed_lines() {
    let pipeline = read("observability/logstash/pipeline.conf");
    for needle in [
        "port => 5044",
        "codec => json_lines",
        "_jsonparsefailure",
        "match => [\"timestamp\", \"ISO8601\"]",
        "http://elasticsearch:9200",
        "\"board-%{+YYYY.MM.dd}\"",
        "\"board-unparsed-%{+YYYY.MM.dd}\"",
    ] {
        assert!(pipeline.contains(needle), "pipeline.conf lacks {needle}");
    }
    assert!(
        !pipeline.lines().any(|l| l.trim_start().starts_with("drop")),
        "pipeline.conf must not drop events"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Against a real server
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_of_the_dashboard_and_the_alerts_is_served() {
    let queried = queried_metrics();
    for expected in [
        "http_server_request_duration_seconds_bucket",
        "board_graphql_operations_total",
        "board_db_round_trips_bucket",
        "board_pool_connections",
    ] {
        assert!(
            queried.contains(expected),
            "{expected} not found in the queries: {queried:?}"
        );
    }

    let app = TestApp::spawn(Backend::Sqlite).await;
    let tag = &crate::helpers::unique("")[..8];
    let name = format!("o{tag}");
    let user = app
        .sign_up(&name, &format!("{name}@example.com"), "password-1")
        .await;
    let failed = app.login(&name, "wrong-password").await;
    assert_eq!(crate::helpers::code(&failed), "UNAUTHENTICATED");
    let category =
        app.ok("{ categories { id } }", json!({}), None).await["categories"][0]["id"].clone();
    let post = app
        .ok(
            "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
            json!({ "i": { "categoryId": category, "title": "observed", "content": "x" } }),
            Some(&user.access),
        )
        .await["createPost"]["post"]["id"]
        .clone();
    // A miss, then a hit.
    for _ in 0..2 {
        app.ok(
            "query ReadPost($id: ID!) { post(id: $id) { title author { name } } }",
            json!({ "id": post }),
            None,
        )
        .await;
    }
    app.ok(
        "mutation($t: String!) { refreshToken(input: { refreshToken: $t }) { accessToken } }",
        json!({ "t": user.refresh }),
        None,
    )
    .await;

    let exposition = app.metrics_text().await;
    let served: BTreeSet<&str> = exposition
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();

    let mut missing = Vec::new();
    for name in &queried {
        let family = family(name);
        let family_served = served.iter().any(|s| {
            s.strip_prefix(family)
                .is_some_and(|rest| ["", "_bucket", "_count", "_sum", "_total"].contains(&rest))
        });
        if !family_served || !served.contains(name.as_str()) {
            missing.push(format!("{name} (family {family})"));
        }
        if family != name {
            assert!(
                exposition.contains(&format!("# TYPE {family} histogram\n")),
                "{name} is queried as a histogram series but {family} is no histogram"
            );
        }
    }
    assert!(
        missing.is_empty(),
        "queried by the dashboard or the alerts but not served by /metrics: {missing:?}\nserved: {served:?}"
    );
}
