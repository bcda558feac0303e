//! Exemplars: asked for OpenMetrics (`Accept: application/openmetrics-text`, as Prometheus asks), `/metrics`
//! answers it, and the buckets of `http_server_request_duration_seconds` carry the trace of a sampled,
//! exported request. The text is checked against the OpenMetrics rules a scraper applies. In a process of
//! its own: the subscriber is global.

use std::collections::HashMap;

use serde_json::json;

use super::traces::collector;
use crate::helpers::{Backend, TestApp, own_process};

const TRACE_ID: &str = "5bf92f3577b34da6a3ce929d0e0e4737";

#[test]
fn openmetrics_with_exemplars() {
    own_process::run(module_path!(), "openmetrics_with_exemplars", || {
        own_process::block_on(exemplars())
    });
}

const OPENMETRICS: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

async fn exemplars() {
    let (endpoint, _exported) = collector().await;
    board::telemetry::init(board::config::LogFormat::Json, None, Some(&endpoint));
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app
        .client()
        .post(format!("{}/graphql", app.base))
        .header("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01"))
        .json(&json!({ "query": "{ categories { id name } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Not sampled by its caller: no exemplar may point at it.
    let unsampled = "6bf92f3577b34da6a3ce929d0e0e4738";
    app.client()
        .post(format!("{}/graphql", app.base))
        .header("traceparent", format!("00-{unsampled}-00f067aa0ba902b7-00"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();

    let response = app
        .client()
        .get(format!("{}/metrics", app.base))
        .header("accept", OPENMETRICS)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let exemplars = check_openmetrics(&text);
    let ours: Vec<&Exemplar> = exemplars
        .iter()
        .filter(|e| e.trace_id == TRACE_ID)
        .collect();
    let [exemplar] = ours.as_slice() else {
        panic!("one exemplar of the traced request: {exemplars:?}");
    };
    assert_eq!(
        exemplar.metric,
        "http_server_request_duration_seconds_bucket"
    );
    assert!(
        exemplar.labels.contains("http_route=\"/graphql\""),
        "{exemplar:?}"
    );
    assert!(
        exemplar
            .labels
            .contains("http_response_status_code=\"200\"")
    );
    assert_eq!(exemplar.span_id.len(), 16);
    assert!(exemplar.value > 0.0);
    assert!(
        !exemplars.iter().any(|e| e.trace_id == unsampled),
        "an unsampled trace is no exemplar"
    );

    // The same families in the Prometheus text format, without exemplars, for everyone else.
    let plain = app.metrics_text().await;
    assert!(!plain.contains(TRACE_ID));
    assert!(plain.contains("# TYPE board_graphql_operations_total counter"));
    assert!(text.contains("# TYPE board_graphql_operations counter"));
    board::telemetry::traces::shutdown().await;
}

#[derive(Debug)]
struct Exemplar {
    metric: String,
    labels: String,
    trace_id: String,
    span_id: String,
    value: f64,
}

/// Checks `text` against the rules of OpenMetrics 1.0 that a scraper enforces — a `# TYPE` before each
/// family's samples, families not interleaved, sample names the family's (with the suffixes of its type:
/// counters only `_total`), `le` buckets ascending and cumulative up to `+Inf`, exemplars only on buckets
/// and counters, within their bucket, their label set under 128 characters, and `# EOF` last — and answers
/// the exemplars.
fn check_openmetrics(text: &str) -> Vec<Exemplar> {
    assert!(text.ends_with("# EOF\n"), "no # EOF at the end");
    let mut families: HashMap<String, String> = HashMap::new();
    let mut current: Option<(String, String)> = None;
    let mut exemplars = Vec::new();
    let mut previous_bucket: Option<(String, f64, f64)> = None;
    for line in text.lines() {
        if line == "# EOF" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                ["counter", "gauge", "histogram", "summary", "unknown"].contains(&kind),
                "{line}"
            );
            assert!(
                families.insert(name.to_owned(), kind.to_owned()).is_none(),
                "family {name} declared twice (interleaved?)"
            );
            if kind == "counter" {
                assert!(
                    !name.ends_with("_total"),
                    "a counter family is named without _total: {line}"
                );
            }
            current = Some((name.to_owned(), kind.to_owned()));
            previous_bucket = None;
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment line: {line}");
        let (family, kind) = current
            .clone()
            .unwrap_or_else(|| panic!("a sample before any # TYPE: {line}"));
        let (sample, exemplar) = match line.split_once(" # ") {
            Some((sample, exemplar)) => (sample, Some(exemplar)),
            None => (line, None),
        };
        let (series, value) = sample.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            other => other
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        let (metric, labels) = match series.split_once('{') {
            Some((metric, labels)) => {
                assert!(labels.ends_with('}'), "{line}");
                (metric, &labels[..labels.len() - 1])
            }
            None => (series, ""),
        };
        let suffix = metric
            .strip_prefix(family.as_str())
            .unwrap_or_else(|| panic!("{metric} is not of the family {family}"));
        let allowed: &[&str] = match kind.as_str() {
            "counter" => &["_total", "_created"],
            "histogram" => &["_bucket", "_count", "_sum", "_created"],
            "summary" => &["", "_count", "_sum", "_created"],
            _ => &[""],
        };
        assert!(allowed.contains(&suffix), "{metric} in a {kind} family");
        if suffix == "_bucket" {
            let le = labels
                .split(',')
                .find_map(|l| l.strip_prefix("le=\""))
                .and_then(|l| l.strip_suffix('"'))
                .unwrap_or_else(|| panic!("a bucket without le: {line}"));
            let le: f64 = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            let others: String = labels
                .split(',')
                .filter(|l| !l.starts_with("le="))
                .collect::<Vec<_>>()
                .join(",");
            let lower = match &previous_bucket {
                Some((series, bound, count)) if *series == others => {
                    assert!(le > *bound, "buckets ascend: {line}");
                    assert!(value >= *count, "buckets are cumulative: {line}");
                    *bound
                }
                _ => f64::NEG_INFINITY,
            };
            previous_bucket = Some((others, le, value));
            if let Some(exemplar) = exemplar {
                let exemplar = parse_exemplar(metric, labels, exemplar);
                assert!(
                    exemplar.value <= le && exemplar.value > lower,
                    "the exemplar is within its bucket: {line}"
                );
                exemplars.push(exemplar);
            }
        } else if let Some(exemplar) = exemplar {
            assert_eq!(
                suffix, "_total",
                "an exemplar only on buckets and counters: {line}"
            );
            exemplars.push(parse_exemplar(metric, labels, exemplar));
        }
    }
    exemplars
}

fn parse_exemplar(metric: &str, labels: &str, text: &str) -> Exemplar {
    let (set, rest) = text
        .strip_prefix('{')
        .and_then(|t| t.split_once("} "))
        .unwrap_or_else(|| panic!("an exemplar is a label set and a value: {text}"));
    assert!(
        set.chars().count() <= 128,
        "an exemplar's labels fit in 128 characters: {set}"
    );
    let label = |name: &str| {
        set.split(',')
            .find_map(|l| l.strip_prefix(&format!("{name}=\"")))
            .and_then(|l| l.strip_suffix('"'))
            .unwrap_or_else(|| panic!("no {name} in {set}"))
            .to_owned()
    };
    let mut parts = rest.split(' ');
    let value: f64 = parts.next().unwrap().parse().unwrap();
    if let Some(at) = parts.next() {
        let at: f64 = at.parse().unwrap();
        assert!(at > 1.5e9, "a timestamp in seconds: {at}");
    }
    assert!(parts.next().is_none(), "{text}");
    Exemplar {
        metric: metric.to_owned(),
        labels: labels.to_owned(),
        trace_id: label("trace_id"),
        span_id: label("span_id"),
        value,
    }
}
