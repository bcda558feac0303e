//! Document limits (aliases, tokens, cost, page sizes) refuse a document before any work.

use serde_json::json;

use crate::helpers::{Backend, TestApp, code};

#[tokio::test]
async fn limits_refuse_documents_before_any_work() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let aliases: Vec<String> = (0..31)
        .map(|i| format!("a{i}: viewer {{ name }}"))
        .collect();
    let too_many_aliases = format!("{{ {} }}", aliases.join(" "));
    let (body, db, cache) = app.gql_counted(&too_many_aliases, json!({}), None).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body:#}");
    assert_eq!(
        (db, cache),
        (0, 0),
        "refused before the database and the cache"
    );
    let thirty: Vec<String> = (0..30)
        .map(|i| format!("a{i}: viewer {{ name }}"))
        .collect();
    let ok = app
        .gql(&format!("{{ {} }}", thirty.join(" ")), json!({}), None)
        .await;
    assert!(ok.get("errors").is_none(), "30 aliases are allowed: {ok:#}");

    let many_tokens = format!("{{ {} }}", "viewer { name } ".repeat(1700));
    let (body, db, cache) = app.gql_counted(&many_tokens, json!({}), None).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX");
    assert_eq!((db, cache), (0, 0));

    let ids: Vec<String> = (1..=100).map(|i| format!("\"VXNlcjo{i}\"")).collect();
    let expensive = format!(
        "{{ nodes(ids: [{}]) {{ ... on User {{ posts(first: 100) {{ nodes {{ comments(first: 100) {{ nodes {{ id }} }} }} }} }} }} }}",
        ids.join(",")
    );
    let (body, db, cache) = app.gql_counted(&expensive, json!({}), None).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX");
    assert_eq!((db, cache), (0, 0));

    for bad in ["first: 0", "first: 101", "last: 1000", "first: -5"] {
        let body = app
            .gql(
                &format!("{{ posts({bad}) {{ totalCount }} }}"),
                json!({}),
                None,
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{bad}");
    }
}
