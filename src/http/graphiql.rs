//! GraphiQL, the in-browser IDE served at `/`.

use async_graphql::http::GraphiQLSource;
use axum::response::{Html, IntoResponse};

/// GraphiQL, with headers that keep the page from being framed or sniffed and limit where it loads from.
pub async fn graphiql() -> impl IntoResponse {
    let page = GraphiQLSource::build()
        .endpoint("/graphql")
        .title("board — GraphiQL")
        .finish();
    (
        [
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'self' 'unsafe-inline' https://unpkg.com; \
                 style-src 'self' 'unsafe-inline' https://unpkg.com https://fonts.googleapis.com; \
                 font-src 'self' https://fonts.gstatic.com data:; img-src 'self' data: https:; \
                 connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            ),
            (axum::http::header::X_FRAME_OPTIONS, "DENY"),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (axum::http::header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(page),
    )
}
