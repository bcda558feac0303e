//! The OpenMetrics text exposition of `/metrics` (served when the scrape asks for
//! `application/openmetrics-text`), with exemplars on the buckets of `http_server_request_duration_seconds`:
//! the trace of the latest sampled request that fell into each bucket. Neither the OpenTelemetry SDK (its
//! exemplar reservoirs are empty) nor the `prometheus` crate (no OpenMetrics, no exemplars) has them, so
//! this module keeps the exemplars and writes the format from the gathered families. docs/traces.md.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus::proto::{LabelPair, MetricFamily, MetricType};

use super::instruments::SECONDS_BUCKETS;

/// The histogram whose buckets carry exemplars, and the labels that tell its series apart.
const EXEMPLARY: &str = "http_server_request_duration_seconds";
const ROUTE: &str = "http_route";
const METHOD: &str = "http_request_method";
const STATUS: &str = "http_response_status_code";
/// Series kept with exemplars at most (routes are templates, so a real server has a few dozen).
const MAX_SERIES: usize = 512;

/// One observation that stands for its bucket: the request's trace, its duration and when it ended.
#[derive(Debug, Clone, PartialEq)]
struct Exemplar {
    trace_id: String,
    span_id: String,
    value: f64,
    at: f64,
}

/// Per series (route, method, status), per bucket (the last is `+Inf`): the latest exemplar.
type Series = (String, String, String);
type Buckets = [Option<Exemplar>; SECONDS_BUCKETS.len() + 1];

fn exemplars() -> &'static Mutex<HashMap<Series, Buckets>> {
    static EXEMPLARS: OnceLock<Mutex<HashMap<Series, Buckets>>> = OnceLock::new();
    EXEMPLARS.get_or_init(Mutex::default)
}

/// Keeps the trace of an HTTP request that took `seconds` as the exemplar of its bucket (called only for
/// sampled requests whose spans are exported: an exemplar must lead to a trace that exists).
pub fn http_request(
    route: &str,
    method: &str,
    status: u16,
    seconds: f64,
    trace_id: String,
    span_id: String,
) {
    let bucket = SECONDS_BUCKETS
        .iter()
        .position(|bound| seconds <= *bound)
        .unwrap_or(SECONDS_BUCKETS.len());
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let Ok(mut kept) = exemplars().lock() else {
        return;
    };
    let key = (route.to_owned(), method.to_owned(), status.to_string());
    if !kept.contains_key(&key) && kept.len() >= MAX_SERIES {
        return;
    }
    kept.entry(key).or_default()[bucket] = Some(Exemplar {
        trace_id,
        span_id,
        value: seconds,
        at,
    });
}

/// Whether `accept` (a request's `Accept` header) prefers OpenMetrics text to the Prometheus text format:
/// it names `application/openmetrics-text` with a weight above 0 and at least that of `text/plain`
/// (Prometheus asks `application/openmetrics-text;version=1.0.0,…,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`).
pub fn wanted(accept: &str) -> bool {
    let mut openmetrics: Option<f32> = None;
    let mut plain: f32 = 0.0;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "application/openmetrics-text" => {
                openmetrics = Some(openmetrics.map_or(q, |o| o.max(q)))
            }
            "text/plain" => plain = plain.max(q),
            _ => {}
        }
    }
    openmetrics.is_some_and(|q| q > 0.0 && q >= plain)
}

/// The families in OpenMetrics 1.0 text, ending with `# EOF`.
pub fn encode(families: &[MetricFamily]) -> String {
    let kept = exemplars()
        .lock()
        .map(|kept| kept.clone())
        .unwrap_or_default();
    let mut out = String::new();
    for family in families {
        let name = family.name();
        let (kind, family_name) = match family.get_field_type() {
            MetricType::COUNTER => ("counter", name.strip_suffix("_total").unwrap_or(name)),
            MetricType::GAUGE => ("gauge", name),
            MetricType::HISTOGRAM => ("histogram", name),
            MetricType::SUMMARY => ("summary", name),
            // The exporter makes none (and the Prometheus text encoder could not write one).
            MetricType::UNTYPED => continue,
        };
        if !family.help().is_empty() {
            let _ = writeln!(out, "# HELP {family_name} {}", escape(family.help()));
        }
        let _ = writeln!(out, "# TYPE {family_name} {kind}");
        for metric in family.get_metric() {
            let labels = metric.get_label();
            match family.get_field_type() {
                MetricType::COUNTER => {
                    let value = metric.get_counter().get_value();
                    sample(&mut out, family_name, "_total", labels, None, value);
                }
                MetricType::GAUGE => {
                    sample(
                        &mut out,
                        name,
                        "",
                        labels,
                        None,
                        metric.get_gauge().get_value(),
                    );
                }
                MetricType::HISTOGRAM => {
                    let series = (name == EXEMPLARY)
                        .then(|| kept.get(&series_of(labels)))
                        .flatten();
                    histogram(&mut out, name, labels, metric.get_histogram(), series);
                }
                MetricType::UNTYPED => {}
                MetricType::SUMMARY => {
                    let summary = metric.get_summary();
                    for q in summary.get_quantile() {
                        let quantile = number(q.quantile());
                        let label = Some(("quantile", quantile.as_str()));
                        sample(&mut out, name, "", labels, label, q.value());
                    }
                    sample(&mut out, name, "_sum", labels, None, summary.sample_sum());
                    let count = summary.sample_count() as f64;
                    sample(&mut out, name, "_count", labels, None, count);
                }
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

fn series_of(labels: &[LabelPair]) -> Series {
    let get = |name: &str| {
        labels
            .iter()
            .find(|l| l.name() == name)
            .map(|l| l.value().to_owned())
            .unwrap_or_default()
    };
    (get(ROUTE), get(METHOD), get(STATUS))
}

fn histogram(
    out: &mut String,
    name: &str,
    labels: &[LabelPair],
    histogram: &prometheus::proto::Histogram,
    exemplars: Option<&Buckets>,
) {
    let exemplar_of = |bound: f64| {
        let index = if bound.is_infinite() {
            SECONDS_BUCKETS.len()
        } else {
            SECONDS_BUCKETS.iter().position(|b| *b == bound)?
        };
        exemplars?.get(index)?.as_ref()
    };
    let mut infinite = false;
    for bucket in histogram.get_bucket() {
        let bound = bucket.upper_bound();
        infinite |= bound.is_infinite() && bound > 0.0;
        let le = number(bound);
        let count = bucket.cumulative_count() as f64;
        let label = Some(("le", le.as_str()));
        sample_with(
            out,
            name,
            "_bucket",
            labels,
            label,
            count,
            exemplar_of(bound),
        );
    }
    if !infinite {
        let count = histogram.get_sample_count() as f64;
        let label = Some(("le", "+Inf"));
        sample_with(
            out,
            name,
            "_bucket",
            labels,
            label,
            count,
            exemplar_of(f64::INFINITY),
        );
    }
    sample(out, name, "_sum", labels, None, histogram.get_sample_sum());
    let count = histogram.get_sample_count() as f64;
    sample(out, name, "_count", labels, None, count);
}

fn sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[LabelPair],
    extra: Option<(&str, &str)>,
    value: f64,
) {
    sample_with(out, name, suffix, labels, extra, value, None);
}

fn sample_with(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[LabelPair],
    extra: Option<(&str, &str)>,
    value: f64,
    exemplar: Option<&Exemplar>,
) {
    out.push_str(name);
    out.push_str(suffix);
    let pairs = labels.iter().map(|l| (l.name(), l.value())).chain(extra);
    let mut separator = '{';
    for (label, text) in pairs {
        let _ = write!(out, "{separator}{label}=\"{}\"", escape(text));
        separator = ',';
    }
    if separator == ',' {
        out.push('}');
    }
    let _ = write!(out, " {}", number(value));
    if let Some(e) = exemplar {
        let _ = write!(
            out,
            " # {{trace_id=\"{}\",span_id=\"{}\"}} {} {:.3}",
            e.trace_id,
            e.span_id,
            number(e.value),
            e.at
        );
    }
    out.push('\n');
}

/// A number as OpenMetrics writes it (`+Inf`, `-Inf`, `NaN`; the shortest decimal otherwise, as the
/// Prometheus text format of the same families does, so a series keeps its `le` whichever format is scraped).
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        value.to_string()
    }
}

/// Label values and help texts: `\`, `"` and line feeds escaped.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_accept_headers_pick_the_format() {
        // What Prometheus 2.x sends by default, and with exemplars stored.
        assert!(wanted(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        ));
        assert!(wanted(
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        ));
        assert!(!wanted("text/plain;version=0.0.4"));
        assert!(!wanted("*/*"));
        assert!(!wanted(""));
        assert!(!wanted("application/openmetrics-text;q=0"));
        assert!(!wanted("application/openmetrics-text;q=0.2, text/plain"));
    }

    #[test]
    fn numbers_and_texts_are_written_as_openmetrics_wants() {
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(0.0005), "0.0005");
        assert_eq!(number(10.0), "10");
        assert_eq!(escape("a\"b\\c\nd 게시판"), "a\\\"b\\\\c\\nd 게시판");
    }
}
