//! Liveness, readiness and robots.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use super::SharedState;

/// The process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The database and the cache both answer; 503 otherwise, so a load balancer stops routing here. A read
/// replica that does not answer is reported but keeps the process ready: the primary answers its reads.
/// The event feed is reported too (`reconnecting` while Redis pub/sub is down: subscriptions stay open and
/// resume when it is back, missing the events in between); it does not make the process unready.
pub async fn readyz(State(state): State<SharedState>) -> (StatusCode, Json<serde_json::Value>) {
    let replica = async {
        match &state.replica {
            Some(replica) => Some(replica.ping().await),
            None => None,
        }
    };
    let (db, cache, replica) = tokio::join!(state.db.ping(), state.cache.ping(), replica);
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
    if let Some(Err(err)) = &replica {
        tracing::warn!(error = %err, "readiness: read replica unreachable; the primary serves its reads");
    }
    let describe = |ok: bool| if ok { "ok" } else { "unavailable" };
    let mut body = json!({
        "status": describe(ready),
        "database": { "kind": state.db.dialect(), "status": describe(db.is_ok()) },
        "cache": { "kind": state.cache.kind(), "status": describe(cache.is_ok()) },
        "events": {
            "kind": state.events.kind(),
            "status": if state.events.live() { "ok" } else { "reconnecting" },
        },
    });
    if let Some(replica) = &replica {
        body["replica"] = json!({ "status": describe(replica.is_ok()) });
    }
    (status, Json(body))
}

/// The API is not for crawlers; GraphiQL pages are not worth indexing.
pub async fn robots() -> &'static str {
    "User-agent: *\nDisallow: /\n"
}
