//! What standard GraphQL clients rely on: introspection at default settings, spec partial results (null in
//! place, bubbling through non-null positions), GraphQL over HTTP (`application/graphql-response+json`) and
//! batches answered element by element.

use crate::helpers::{Backend, TestApp, code};
use serde_json::{Value, json};

const INTROSPECTION: &str = include_str!("fixtures/introspection.graphql");

async fn sqlite() -> TestApp {
    TestApp::spawn(Backend::Sqlite).await
}

/// Every error location is 1-based.
fn assert_locations_valid(body: &Value) {
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    for e in errors {
        for l in e["locations"].as_array().cloned().unwrap_or_default() {
            assert!(
                l["line"].as_u64().unwrap() >= 1 && l["column"].as_u64().unwrap() >= 1,
                "{body:#}"
            );
        }
    }
}

#[tokio::test]
async fn the_standard_introspection_query_runs_at_default_settings() {
    let app = sqlite().await;
    let body = app.gql(INTROSPECTION, json!({}), None).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let types = body["data"]["__schema"]["types"].as_array().unwrap();
    let query = types.iter().find(|t| t["name"] == "Query").unwrap();
    assert!(
        query["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "posts"),
        "{query:#}"
    );
    // GraphiQL's own query asks for less; it runs too.
    let graphiql = INTROSPECTION
        .replace("isOneOf", "")
        .replace("specifiedByURL", "");
    let body = app.gql(&graphiql, json!({}), None).await;
    assert!(body.get("errors").is_none(), "{body:#}");
}

#[tokio::test]
async fn introspection_is_bounded_on_its_own_and_user_depth_stays() {
    let app = sqlite().await;
    for looped in [
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
        "{ __type(name: \"Post\") { ...T } } fragment T on __Type { fields { type { interfaces { possibleTypes { name } } } } }",
    ] {
        let body = app.gql(looped, json!({}), None).await;
        assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{looped}: {body:#}");
    }
    let two = "{ __type(name: \"Post\") { fields { type { fields { name } } } } }";
    let body = app.gql(two, json!({}), None).await;
    assert!(body.get("errors").is_none(), "{body:#}");

    let mut deep = String::from("{ categories { id ");
    for _ in 0..11 {
        deep.push_str("children { id ");
    }
    deep.push_str(&"} ".repeat(13));
    let body = app.gql(&deep, json!({}), None).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "depth 13: {body:#}");
    let shallower = deep.replacen("children { id ", "", 1).replacen("} ", "", 1);
    let body = app.gql(&shallower, json!({}), None).await;
    assert!(body.get("errors").is_none(), "depth 12 runs: {body:#}");
}

#[tokio::test]
async fn switching_introspection_off_still_hides_it() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.introspection = false).await;
    let body = app.gql(INTROSPECTION, json!({}), None).await;
    assert!(body["data"]["__schema"].is_null(), "{body:#}");
    let body = app
        .gql(
            "{ __type(name: \"Post\") { fields { name } } }",
            json!({}),
            None,
        )
        .await;
    assert!(body["data"]["__type"].is_null(), "{body:#}");
}

/// The engine would answer the `__Schema` type's own description ("A GraphQL Schema defines the
/// capabilities …") as this schema's description; clients showed it as board's, and the schema they rebuilt
/// from introspection differed from schema.graphql, which has none.
#[tokio::test]
async fn the_schema_description_clients_see_is_the_schema_files() {
    let app = sqlite().await;
    let body = app.gql(INTROSPECTION, json!({}), None).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert!(
        body["data"]["__schema"]["description"].is_null(),
        "{body:#}"
    );

    let body = app
        .ok(
            "{ s: __schema { d: description } t: __type(name: \"__Schema\") { description } }",
            json!({}),
            None,
        )
        .await;
    assert!(body["s"]["d"].is_null(), "{body:#}");
    assert!(
        body["t"]["description"]
            .as_str()
            .unwrap()
            .starts_with("A GraphQL Schema defines"),
        "the introspection type keeps its own description: {body:#}"
    );
}

async fn a_post(app: &TestApp) -> String {
    let session = app
        .sign_up("writer", "writer@example.com", "correct horse")
        .await;
    let category = app.first_category().await;
    app.create_post(&session.access, &category, "partial", "results")
        .await
}

/// A nullable field that fails is present as `null`, with one error at its path.
async fn a_failing_nullable_field_is_null(app: TestApp) {
    let text = app
        .post(
            &json!({ "query": "{ ok: categories { id } bad: post(id: \"not-an-id\") { id } }" }),
            None,
        )
        .await
        .text()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert!(body["data"]["bad"].is_null(), "{body:#}");
    assert!(body["data"]["ok"].is_array(), "{body:#}");
    // In selection order.
    assert!(
        text.find("\"ok\"").unwrap() < text.find("\"bad\"").unwrap(),
        "{text}"
    );
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body:#}");
    assert_eq!(errors[0]["path"], json!(["bad"]));
    assert_eq!(errors[0]["locations"], json!([{ "line": 1, "column": 25 }]));
    assert_locations_valid(&body);
}

/// A non-null field that fails nulls its nearest nullable parent.
async fn a_failing_non_null_field_nulls_its_parent(app: TestApp) {
    let post = a_post(&app).await;
    let body = app
        .gql(
            "query($id: ID!) { post(id: $id) { id comments(first: 0) { totalCount } } categories { id } }",
            json!({ "id": post }),
            None,
        )
        .await;
    assert!(body["data"]["post"].is_null(), "{body:#}");
    assert!(body["data"]["categories"].is_array(), "{body:#}");
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body:#}");
    assert_eq!(errors[0]["path"], json!(["post", "comments"]));
    assert_locations_valid(&body);
}

/// In a list of nullable items the failing item becomes null; the others stay.
async fn a_failing_list_item_is_null(app: TestApp) {
    let post = a_post(&app).await;
    let body = app
        .gql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Post { comments(first: 0) { totalCount } } } }",
            json!({ "ids": [post, app.first_category().await] }),
            None,
        )
        .await;
    let nodes = body["data"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{body:#}");
    assert!(nodes[0].is_null(), "{body:#}");
    assert!(nodes[1]["id"].is_string(), "{body:#}");
    assert_eq!(body["errors"][0]["path"], json!(["nodes", 0, "comments"]));
}

/// Non-null all the way up: `data` itself is null.
async fn a_failure_under_non_null_roots_nulls_data(app: TestApp) {
    a_post(&app).await;
    let body = app
        .gql(
            "{ posts(first: 1) { totalCount edges { node { id comments(first: 0) { totalCount } } } } }",
            json!({}),
            None,
        )
        .await;
    assert!(
        body.as_object().unwrap().contains_key("data") && body["data"].is_null(),
        "{body:#}"
    );
    assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{body:#}");
    assert_eq!(
        body["errors"][0]["path"],
        json!(["posts", "edges", 0, "node", "comments"])
    );
}

backend_tests!(
    a_failing_nullable_field_is_null,
    a_failing_non_null_field_nulls_its_parent,
    a_failing_list_item_is_null,
    a_failure_under_non_null_roots_nulls_data,
);

async fn post_accepting(app: &TestApp, accept: &str, body: Value) -> reqwest::Response {
    app.client()
        .post(format!("{}/graphql", app.base))
        .header("accept", accept)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn graphql_response_json_answers_request_errors_with_400_and_no_data() {
    let app = sqlite().await;
    const GRJ: &str = "application/graphql-response+json";
    for (request, what) in [
        (json!({ "query": "{ viewer { id " }), "parse"),
        (json!({ "query": "{ noSuchField }" }), "validation"),
        (
            json!({ "query": "query($n: Int!) { posts(first: $n) { totalCount } }", "variables": { "n": "x" } }),
            "variable coercion",
        ),
        (json!({ "variables": {} }), "no query"),
    ] {
        let response = post_accepting(&app, GRJ, request.clone()).await;
        assert_eq!(response.status(), 400, "{what}");
        assert_eq!(response.headers()["content-type"], GRJ, "{what}");
        let body: Value = response.json().await.unwrap();
        assert!(body.get("data").is_none(), "{what}: {body:#}");
        assert!(!body["errors"].as_array().unwrap().is_empty(), "{what}");
        assert_locations_valid(&body);

        let response = post_accepting(&app, "application/json", request).await;
        assert_eq!(response.status(), 200, "{what}: application/json keeps 200");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.unwrap();
        assert!(body["data"].is_null(), "{what}: {body:#}");
    }
    // A body that is not a GraphQL request at all is a bad HTTP request under either media type.
    for accept in [GRJ, "application/json"] {
        let response = post_accepting(&app, accept, json!({ "query": 5 })).await;
        assert_eq!(response.status(), 400, "{accept}");
        assert_eq!(
            code(&response.json::<Value>().await.unwrap()),
            "BAD_USER_INPUT"
        );
    }
    // A field error is not a request error: 200, with data.
    let response = post_accepting(
        &app,
        "application/graphql-response+json, application/json;q=0.9",
        json!({ "query": "{ post(id: \"nope\") { id } }" }),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], GRJ);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"], json!({ "post": null }), "{body:#}");
    // A bad token is a request error too.
    let response = app
        .client()
        .post(format!("{}/graphql", app.base))
        .header("accept", GRJ)
        .bearer_auth("not-a-token")
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "UNAUTHENTICATED");
    assert!(body.get("data").is_none());
}

#[tokio::test]
async fn a_batch_is_answered_element_by_element() {
    let app = sqlite().await;
    let ok = json!({ "query": "{ categories { id } }" });
    let too_many_aliases = {
        let aliases: Vec<String> = (0..31).map(|i| format!("a{i}: viewer {{ id }}")).collect();
        json!({ "query": format!("{{ {} }}", aliases.join(" ")) })
    };
    let unparsable = json!({ "query": "{ viewer { id " });
    let list = app
        .batch(&json!([ok, too_many_aliases, unparsable, ok]), None)
        .await;
    assert_eq!(list.len(), 4, "{list:#?}");
    assert!(list[0]["data"]["categories"].is_array(), "{list:#?}");
    assert_eq!(code(&list[1]), "QUERY_TOO_COMPLEX", "{list:#?}");
    assert_eq!(code(&list[2]), "BAD_USER_INPUT", "{list:#?}");
    assert!(list[3]["data"]["categories"].is_array(), "{list:#?}");

    // A bad token answers every element, and no error points at line 0.
    let list = app.batch(&json!([ok, ok, ok]), Some("not-a-token")).await;
    assert_eq!(list.len(), 3, "{list:#?}");
    for element in &list {
        assert_eq!(code(element), "UNAUTHENTICATED", "{list:#?}");
        assert!(element["errors"][0].get("locations").is_none(), "{list:#?}");
    }

    // An element that is not a request answers in its place; the others run.
    let list = app
        .batch(&json!([ok, { "query": 5 }, [ok], ok]), None)
        .await;
    assert_eq!(list.len(), 4, "{list:#?}");
    assert!(list[0]["data"]["categories"].is_array(), "{list:#?}");
    assert_eq!(code(&list[1]), "BAD_USER_INPUT", "{list:#?}");
    assert_eq!(code(&list[2]), "BAD_USER_INPUT", "{list:#?}");
    assert!(list[3]["data"]["categories"].is_array(), "{list:#?}");

    // A one-element batch is still a batch.
    let list = app.batch(&json!([ok]), None).await;
    assert_eq!(list.len(), 1, "{list:#?}");

    // An empty batch is refused with 400 and says why.
    let response = app.post(&json!([]), None).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("empty"),
        "{body:#}"
    );
}

#[tokio::test]
async fn a_directive_repeated_past_the_limit_is_too_complex() {
    let app = sqlite().await;
    let repeated = format!("{{ viewer {} {{ id }} }}", "@include(if: true) ".repeat(6));
    let body = app.gql(&repeated, json!({}), None).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body:#}");
    // Within the limit, repeating a non-repeatable directive is a validation error.
    let twice = "{ viewer @include(if: true) @include(if: true) { id } }";
    let body = app.gql(twice, json!({}), None).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
}

#[tokio::test]
async fn the_schema_tells_the_truth_about_nulls_and_times() {
    let app = sqlite().await;
    let body = app
        .ok(
            "{ post: __type(name: \"Post\") { fields { name type { kind } } } comment: __type(name: \"Comment\") { fields { name type { kind } } } time: __type(name: \"DateTime\") { specifiedByURL description } }",
            json!({}),
            None,
        )
        .await;
    let kind = |ty: &str, field: &str| {
        body[ty]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == field)
            .unwrap()["type"]["kind"]
            .clone()
    };
    assert_eq!(kind("post", "author"), "NON_NULL");
    assert_eq!(kind("post", "category"), "NON_NULL");
    assert_eq!(kind("comment", "author"), "NON_NULL");
    assert!(
        body["time"]["specifiedByURL"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert!(
        !body["time"]["description"]
            .as_str()
            .unwrap()
            .contains("Utc>")
    );

    let session = app
        .sign_up("timely", "timely@example.com", "correct horse")
        .await;
    let viewer = app
        .ok("{ viewer { createdAt } }", json!({}), Some(&session.access))
        .await;
    let created = viewer["viewer"]["createdAt"].as_str().unwrap();
    assert!(created.ends_with('Z'), "{created}");
}

#[tokio::test]
async fn no_suggestions_without_introspection() {
    let open = TestApp::spawn(Backend::Sqlite).await;
    let closed = TestApp::spawn_with(Backend::Sqlite, |c| c.introspection = false).await;
    let typo = "{ viewr { name } }";
    let hint = open.gql(typo, json!({}), None).await;
    assert!(
        hint["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{hint:#}"
    );
    let silent = closed.gql(typo, json!({}), None).await;
    assert_eq!(code(&silent), "BAD_USER_INPUT");
    assert!(
        !silent["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{silent:#}"
    );
}

/// A variable whose value does not fit its type is one request error naming it, on its definition —
/// however many arguments it feeds — and nothing runs.
#[tokio::test]
async fn a_bad_variable_is_one_error_naming_it() {
    let app = sqlite().await;
    let query = "query($n: Int!, $s: String) { a: posts(first: $n, search: $s) { totalCount } \
                 b: posts(first: $n) { totalCount } }";
    let body: Value = app
        .post(
            &json!({ "query": query, "variables": { "n": "x", "s": "ok" } }),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(body.get("data").is_none_or(Value::is_null), "{body:#}");
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body:#}");
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert_eq!(errors[0]["extensions"]["variable"], "n");
    assert!(
        errors[0]["message"].as_str().unwrap().contains("$n"),
        "{body:#}"
    );
    assert_eq!(errors[0]["locations"], json!([{ "line": 1, "column": 7 }]));
    assert_locations_valid(&body);
    // A literal that does not fit is still reported where it is.
    let body: Value = app
        .post(
            &json!({ "query": "{ posts(first: \"x\") { totalCount } }" }),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        body["errors"][0]["extensions"].get("variable").is_none(),
        "{body:#}"
    );
}
