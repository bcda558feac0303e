//! A small PromQL scanner: which metric names an expression of the dashboard or the alert rules selects.

use std::collections::BTreeSet;

// ---------------------------------------------------------------------------------------------------------------
// PromQL: which metric names does an expression select?
// ---------------------------------------------------------------------------------------------------------------

/// Aggregation operators, binary and modifier keywords, and special numbers: identifiers that are never metric
/// names even when no `(` follows them (`sum by (le) (…)`, `a / on (x) group_left b`, `x > bool 1`).
const KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "atan2",
    "inf",
    "nan",
];

/// Keywords followed by a parenthesised list of label names (not metrics).
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Series that Prometheus makes itself for every scrape target; no application serves them.
pub(super) fn synthetic(name: &str) -> bool {
    name == "up" || name.starts_with("scrape_")
}

/// The index just past the bracket that closes the one at `start`, skipping quoted strings.
fn skip_group(chars: &[char], start: usize, close: char) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            c if c == close => return i + 1,
            '"' | '\'' | '`' => i = skip_string(chars, i),
            _ => i += 1,
        }
    }
    i
}

/// The index just past the string literal that starts at `start`.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if quote != '`' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// Metric names selected by a PromQL expression: identifiers outside label matchers (`{…}`), ranges (`[…]`),
/// strings and label lists (`by (…)`), that are neither function calls nor keywords.
pub(super) fn metric_names(expr: &str) -> BTreeSet<String> {
    assert!(
        !expr.contains("__name__"),
        "select metrics by name, not through __name__: {expr}"
    );
    let chars: Vec<char> = expr.chars().collect();
    let next_non_space = |mut i: usize| {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        chars.get(i).copied()
    };
    let mut names = BTreeSet::new();
    let mut label_list_follows = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c == '{' {
            i = skip_group(&chars, i, '}');
        } else if c == '[' {
            i = skip_group(&chars, i, ']');
        } else if c == '(' && label_list_follows {
            label_list_follows = false;
            i = skip_group(&chars, i, ')');
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            // Numbers and durations: 0.99, 1e3, 5m, 1h30m.
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_')
            {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let ident: String = chars[start..i].iter().collect();
            let next = next_non_space(i);
            if LABEL_LISTS.contains(&ident.as_str()) {
                label_list_follows = next == Some('(');
            } else if KEYWORDS.contains(&ident.as_str()) || next == Some('(') {
                // An operator, or a function call such as rate(…) or histogram_quantile(…).
            } else {
                names.insert(ident);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// The metric family of a served name: histogram series drop `_bucket`, `_count` or `_sum`.
pub(super) fn family(name: &str) -> &str {
    ["_bucket", "_count", "_sum"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name)
}

#[test]
fn the_promql_scanner_finds_metric_names_only() {
    let expr = r#"histogram_quantile(0.99, sum by (le, cache) (rate(foo_bucket{a="b}", c=~"x|y"}[$__rate_interval])))
        / on (instance) group_left (pool) max without (state) (bar:ratio) > bool 0.5
        and baz offset 5m unless up{job="board"} == 0 or clamp_min(qux_total, 1e3)"#;
    let names: Vec<String> = metric_names(expr).into_iter().collect();
    assert_eq!(names, ["bar:ratio", "baz", "foo_bucket", "qux_total", "up"]);
    assert_eq!(family("foo_bucket"), "foo");
    assert_eq!(family("foo_seconds_count"), "foo_seconds");
    assert_eq!(family("board_auth_logins_total"), "board_auth_logins_total");
}
