//! A baseline for `bench/run.sh`: the same HTTP + GraphQL stack as `board` (axum, async-graphql,
//! async-graphql-axum, tokio) with one trivial in-memory field, `{ ping }` → `"pong"`. What it serves per
//! second bounds what `board` can serve on the same machine before any database, cache or auth work.
//!
//! `cargo run --release --example baseline` listens on `BASELINE_BIND` (default `127.0.0.1:18091`),
//! `POST /graphql`.

use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
use async_graphql_axum::GraphQL;
use axum::Router;
use axum::routing::post_service;

struct Query;

#[Object]
impl Query {
    async fn ping(&self) -> &'static str {
        "pong"
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bind = std::env::var("BASELINE_BIND").unwrap_or_else(|_| "127.0.0.1:18091".to_owned());
    let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
    let app = Router::new().route("/graphql", post_service(GraphQL::new(schema)));
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("baseline listening on {bind}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
