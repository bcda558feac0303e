//! Operation-name labels cannot be exhausted: a flood of one-off names does not keep a real operation out.
//! (A process of its own: the metrics and their label slots are global to the process.)

use crate::helpers::{Backend, TestApp, own_process};
use serde_json::{Value, json};

fn count(text: &str, op: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("board_graphql_operations_total{"))
        .filter(|l| l.contains(&format!("graphql_operation_name=\"{op}\"")))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

#[test]
fn a_flood_of_junk_names_does_not_take_the_labels() {
    own_process::run(
        module_path!(),
        "a_flood_of_junk_names_does_not_take_the_labels",
        || own_process::block_on(flood_then_real_operations()),
    );
}

async fn flood_then_real_operations() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // 210 distinct names, each run once (successfully), in batches of 10.
    for chunk in 0..21 {
        let batch: Vec<Value> = (0..10)
            .map(
                |i| json!({ "query": format!("query Junk{:03} {{ __typename }}", chunk * 10 + i) }),
            )
            .collect();
        let response = app.post(&Value::Array(batch), None).await;
        assert_eq!(response.status(), 200);
    }
    for _ in 0..3 {
        app.ok("query RealFeed { categories { id } }", json!({}), None)
            .await;
    }
    let text = app.metrics_text().await;
    // First come, first served kept 200 junk names and reported this as `other` until a restart.
    assert_eq!(count(&text, "RealFeed"), 3.0, "{text}");
}
