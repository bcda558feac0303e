//! Queries and mutations over graphql-ws (as socket-only clients send them: urql's `enableAllOperations`,
//! Python gql's WebSocket transport, Apollo's socket-only links): the same pipeline and answers as over HTTP,
//! as `next` then `complete`, or `error` when refused before running.

use crate::helpers::TestApp;
use crate::helpers::ws::{Heard, WsClient};
use serde_json::{Value, json};

backend_tests!(queries_and_mutations_run_over_the_socket_as_over_http);

/// The messages answering operation `id`: `next` payloads, then `complete` — or the `error` message.
async fn answer(client: &mut WsClient, id: &str) -> Result<Vec<Value>, Value> {
    let mut payloads = Vec::new();
    loop {
        match client.hear().await {
            Heard::Message(m) if m["id"] == id && m["type"] == "next" => {
                payloads.push(m["payload"].clone());
            }
            Heard::Message(m) if m["id"] == id && m["type"] == "complete" => return Ok(payloads),
            Heard::Message(m) if m["id"] == id && m["type"] == "error" => return Err(m),
            other => panic!("unexpected while waiting for {id}: {other:?}"),
        }
    }
}

async fn run(client: &mut WsClient, id: &str, query: &str, variables: Value) -> Value {
    client.subscribe(id, query, variables).await;
    let payloads = answer(client, id).await.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        payloads.len(),
        1,
        "one `next` then `complete`: {payloads:#?}"
    );
    payloads.into_iter().next().unwrap()
}

async fn queries_and_mutations_run_over_the_socket_as_over_http(app: TestApp) {
    let member = app
        .sign_up("소켓user", "socket@example.com", "password-1")
        .await;
    let category = app.first_category().await;
    let mut client = WsClient::ready(&app.base, Some(&member.access)).await;

    // A query, as the viewer `connection_init` named.
    let me = run(&mut client, "1", "{ viewer { name } }", json!({})).await;
    assert_eq!(me["data"], json!({ "viewer": { "name": "소켓user" } }));
    // It spent the member's points as over HTTP: 1 (viewer 1; a scalar weighs 0).
    assert_eq!(me["extensions"]["cost"]["requested"], 1, "{me:#}");

    // Introspection, as a client fetching the schema over the socket does.
    let schema = run(
        &mut client,
        "2",
        "{ __schema { queryType { name } subscriptionType { name } } }",
        json!({}),
    )
    .await;
    assert_eq!(schema["data"]["__schema"]["queryType"]["name"], "Query");

    // A mutation: its write is seen over HTTP.
    let created = run(
        &mut client,
        "3",
        "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id title } } }",
        json!({ "i": { "categoryId": category, "title": "over the socket", "content": "본문" } }),
    )
    .await;
    let id = created["data"]["createPost"]["post"]["id"].clone();
    assert_eq!(
        created["data"]["createPost"]["post"]["title"],
        "over the socket"
    );
    let read = app
        .ok(
            "query($id: ID!) { post(id: $id) { title author { name } } }",
            json!({ "id": id }),
            None,
        )
        .await;
    assert_eq!(read["post"]["author"]["name"], "소켓user");

    // Errors are those HTTP answers: the same body, code for code.
    let invalid = json!({ "i": { "categoryId": category, "title": "", "content": "x" } });
    let create = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }";
    let over_socket = run(&mut client, "4", create, invalid.clone()).await;
    let over_http = app.gql(create, invalid, Some(&member.access)).await;
    assert_eq!(
        over_socket["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    assert_eq!(
        over_socket["errors"][0]["extensions"],
        over_http["errors"][0]["extensions"]
    );

    // Refused before it ran (a document over the depth limit, a document that does not parse): `error`.
    let deep = format!(
        "{{ posts {{ edges {{ node {{ {} id {} }} }} }} }}",
        "category { parent { ".repeat(7),
        "} } ".repeat(7)
    );
    client.subscribe("5", &deep, json!({})).await;
    let refused = answer(&mut client, "5").await.unwrap_err();
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "QUERY_TOO_COMPLEX"
    );
    client.subscribe("6", "{ posts {", json!({})).await;
    let refused = answer(&mut client, "6").await.unwrap_err();
    assert!(
        refused["payload"].as_array().is_some_and(|e| !e.is_empty()),
        "{refused:#}"
    );

    // An anonymous socket runs as an anonymous HTTP request: reads yes, writes no.
    let mut anonymous = WsClient::ready(&app.base, None).await;
    let viewer = run(&mut anonymous, "1", "{ viewer { name } }", json!({})).await;
    assert_eq!(viewer["data"]["viewer"], Value::Null);
    let refused = run(
        &mut anonymous,
        "2",
        create,
        json!({ "i": { "categoryId": category, "title": "t", "content": "c" } }),
    )
    .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );

    // The socket still carries subscriptions.
    let listening = "subscription($c: ID) { postAdded(categoryId: $c) { title } }";
    client
        .listen("7", listening, json!({ "c": category }))
        .await;
    client
        .subscribe(
            "8",
            "mutation($i: CreatePostInput!) { createPost(input: $i) { post { title } } }",
            json!({ "i": { "categoryId": category, "title": "heard", "content": "c" } }),
        )
        .await;
    // The event and the mutation's answer arrive in either order.
    let (mut event, mut completed) = (None, false);
    while event.is_none() || !completed {
        match client.hear().await {
            Heard::Message(m) if m["id"] == "7" && m["type"] == "next" => event = Some(m),
            Heard::Message(m) if m["id"] == "8" && m["type"] == "next" => {
                assert_eq!(m["payload"]["data"]["createPost"]["post"]["title"], "heard");
            }
            Heard::Message(m) if m["id"] == "8" && m["type"] == "complete" => completed = true,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        event.unwrap()["payload"]["data"]["postAdded"]["title"],
        "heard"
    );
}

/// A SQLite app whose sign-ups hash for seconds (bcrypt cost 15), with `operations` per socket and address.
async fn slow_sign_ups(operations: Option<usize>) -> TestApp {
    TestApp::spawn_with(crate::helpers::Backend::Sqlite, |c| {
        c.bcrypt_cost = 15;
        if let Some(operations) = operations {
            c.ws_subscriptions_per_connection = operations;
        }
    })
    .await
}

/// A new socket whose operation "1" is a sign-up of `name`, given a second to start (on a busy machine
/// too); it is still hashing when this returns.
async fn slow_sign_up(app: &TestApp, name: &str, email: &str) -> WsClient {
    let mut client = WsClient::ready(&app.base, None).await;
    client
        .subscribe(
            "1",
            "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
            json!({ "i": { "name": name, "email": email, "password": "password-1" } }),
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_whose_socket_closed_still_completes() {
    let app = slow_sign_ups(None).await;
    // Started, not finished; then the client goes away (its operation's task is aborted).
    let client = slow_sign_up(&app, "떠난kim", "left@example.com").await;
    drop(client);
    assert!(
        app.account_appears("떠난kim").await,
        "the sign-up stopped with its socket"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_a_socket_completed_still_counts_against_its_operations() {
    let app = slow_sign_ups(Some(1)).await;
    // Started, then completed: the sign-up goes on, and still takes the one operation.
    let mut client = slow_sign_up(&app, "바쁜kim", "busy@example.com").await;
    client.send(json!({ "type": "complete", "id": "1" })).await;
    client.subscribe("2", "{ __typename }", json!({})).await;
    let refused = answer(&mut client, "2").await.expect_err("refused");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"], "RATE_LIMITED",
        "{refused:#}"
    );
    // Once it is done, the socket runs operations again.
    assert!(app.account_appears("바쁜kim").await);
    let mut ran = false;
    for n in 3..100 {
        let id = n.to_string();
        client.subscribe(&id, "{ __typename }", json!({})).await;
        if answer(&mut client, &id).await.is_ok() {
            ran = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ran, "the socket stayed locked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_runs_its_operations_at_work_over_all_its_sockets() {
    let app = slow_sign_ups(Some(1)).await;
    // Started, then another socket of the same address: the address's one operation is still at work.
    let first = slow_sign_up(&app, "둘째kim", "second@example.com").await;
    let mut second = WsClient::ready(&app.base, None).await;
    second.subscribe("1", "{ __typename }", json!({})).await;
    let refused = answer(&mut second, "1").await.expect_err("refused");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"], "RATE_LIMITED",
        "{refused:#}"
    );
    assert!(
        app.metrics_text()
            .await
            .contains("limit=\"ws_operations_per_client\""),
        "the refusal is counted"
    );
    drop(first);
    assert!(app.account_appears("둘째kim").await);
}
