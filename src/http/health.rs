//! Liveness, readiness and robots.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use super::AppState;

/// The process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The database and the cache both answer; 503 otherwise, so a load balancer stops routing here.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let (db, cache) = tokio::join!(state.db.ping(), state.cache.ping());
    let ready = db.is_ok() && cache.is_ok();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    if let Err(err) = &db {
        tracing::warn!(error = %err, "readiness: database unreachable");
    }
    if let Err(err) = &cache {
        tracing::warn!(error = %err, "readiness: cache unreachable");
    }
    let describe = |ok: bool| if ok { "ok" } else { "unavailable" };
    (
        status,
        Json(json!({
            "status": describe(ready),
            "database": { "kind": state.db.dialect(), "status": describe(db.is_ok()) },
            "cache": { "kind": state.cache.kind(), "status": describe(cache.is_ok()) },
        })),
    )
}

/// The API is not for crawlers; GraphiQL pages are not worth indexing.
pub async fn robots() -> &'static str {
    "User-agent: *\nDisallow: /\n"
}
