//! The HTTP edge: the axum router, request ids, GraphQL over HTTP, health and readiness.

mod accept_encoding;
mod body;
mod export;
mod graphiql;
mod graphql;
mod health;
pub mod observe;
mod per_client;
pub mod serve;
pub mod ws;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::adapters::sql::Db;
use crate::config::HttpSettings;
use crate::graphql::pipeline::Pipeline;
use crate::graphql::{BoardSchema, Services};
use crate::ports::{Cache, Events};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub schema: BoardSchema,
    pub services: Services,
    pub db: Db,
    /// The read replica, if configured (reported by `/readyz`; its failures fall back to `db`).
    pub replica: Option<Db>,
    pub cache: Arc<dyn Cache>,
    /// Subscription sockets: their bounds, events and drain.
    pub sockets: Arc<ws::Sockets>,
    /// The board's event feed (reported by `/readyz`).
    pub events: Arc<dyn Events>,
    /// The listener's settings the handlers read: body bound and timeout, batch size, GraphiQL, CORS, …
    pub http: HttpSettings,
    /// What every GraphQL operation goes through, whatever its transport.
    pub pipeline: Arc<Pipeline>,
}

impl AppState {
    /// The bounds of a POST body.
    fn body_limits(&self) -> body::BodyLimits {
        body::BodyLimits {
            max_bytes: self.http.max_body_bytes,
            read_timeout: self.http.body_read_timeout,
        }
    }
}

/// CORS for the configured origins only. Tokens travel in the `Authorization` header, never in cookies,
/// so credentials are never allowed (which also makes `*` safe to configure).
fn cors_layer(origins: &[String], headers: &[String]) -> CorsLayer {
    let headers: Vec<HeaderName> = headers
        .iter()
        .filter_map(|h| HeaderName::from_bytes(h.as_bytes()).ok())
        .collect();
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(headers)
        .expose_headers([REQUEST_ID])
        .max_age(std::time::Duration::from_secs(600));
    if origins.iter().any(|o| o == "*") {
        layer.allow_origin(AllowOrigin::any())
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        layer.allow_origin(AllowOrigin::list(list))
    }
}

/// The state handlers see: one allocation shared by every request, so taking it costs one reference count.
pub type SharedState = Arc<AppState>;

pub fn router(state: AppState) -> Router {
    let state: SharedState = Arc::new(state);
    let mut router = Router::new()
        .route(
            "/graphql",
            get(ws::get_graphql).merge(state.body_limits().post(graphql::post_graphql)),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/robots.txt", get(health::robots))
        .route("/posts/{id}/export.csv", get(export::export_post));
    // `/metrics` is served here unless it has a listener of its own.
    if state.http.metrics_bind.is_none() {
        router = router.route("/metrics", get(observe::metrics_text));
    }
    if state.http.graphiql {
        router = router
            .route("/", get(graphiql::page))
            .route("/graphiql", get(graphiql::page))
            .route("/graphiql/assets/{name}", get(graphiql::asset));
    }
    let cors = cors_layer(
        &state.http.cors_allowed_origins,
        &state.http.cors_allowed_headers,
    );
    router
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            observe::observe,
        ))
        .with_state(state)
        // Outermost first: give every request an id, then echo it on the response.
        .layer(cors)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        // Outermost: a client's own request id is kept only if it is short and plain; otherwise it is
        // dropped here and replaced by a generated one (it goes into every log line of the request).
        .layer(axum::middleware::map_request(plain_request_id))
}

/// The longest client-chosen request id kept.
pub const REQUEST_ID_MAX: usize = 64;

/// Whether a client's request id is kept: 1–64 bytes of ASCII letters, digits, `-`, `_`, `.` and `:`.
fn plain_id(id: &[u8]) -> bool {
    (1..=REQUEST_ID_MAX).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

async fn plain_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    let plain = request
        .headers()
        .get_all(REQUEST_ID)
        .iter()
        .map(|v| plain_id(v.as_bytes()))
        .collect::<Vec<_>>();
    if plain.len() > 1 || plain.first() == Some(&false) {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_short_plain_request_ids_are_kept() {
        assert!(super::plain_id(b"3f2a-b7:c.d_e"));
        assert!(!super::plain_id(b""));
        assert!(!super::plain_id("a".repeat(65).as_bytes()));
        assert!(!super::plain_id(b"evil\nINFO forged log line"));
        assert!(!super::plain_id(b"a b"));
    }
}
