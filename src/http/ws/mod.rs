//! GraphQL subscriptions over WebSockets (`graphql-transport-ws`) on `GET /graphql` with `Upgrade`; a GET
//! without `Upgrade` is a query over HTTP as before.
//!
//! The protocol is implemented here rather than with async-graphql's `WebSocket` because this server needs
//! what that one lacks: close codes of the graphql-ws spec (4403 for a bad token, 4408 for a late
//! `connection_init`), a bounded send buffer per socket, a cap on subscriptions per socket and on sockets per
//! client address, sockets closed when their token expires or their user may no longer act, and a drain
//! on shutdown. Execution is the engine's (`Schema::execute_stream`), under the same limits as over HTTP.

pub mod protocol;
mod session;

use std::sync::Arc;

use axum::Extension;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{CONTENT_TYPE, SEC_WEBSOCKET_PROTOCOL, UPGRADE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

use super::observe::ClientIp;
use super::per_client::{ClientSlot, PerClient};
use super::serve::ConnectionSlot;
use super::{SharedState, graphql};
use crate::graphql::subscription::hub::EventHub;

/// The read buffer of one socket (see `on_upgrade` below).
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// The bounds of subscription sockets (see the `ws_*` configuration keys).
pub use crate::config::WsSettings as Settings;

/// The process's subscription sockets: their bounds, the events they hear, how many each client address
/// has open, and the drain signal.
pub struct Sockets {
    pub settings: Settings,
    pub hub: Arc<EventHub>,
    per_client: Arc<PerClient<String>>,
    /// Queries and mutations at work per client address, over all its sockets, counted until their work
    /// ends (a mutation goes on after its `complete` or its socket's close: `Pipeline::answer`).
    operations: Arc<PerClient<String>>,
    draining: watch::Sender<bool>,
}

impl Sockets {
    pub fn new(settings: Settings, hub: Arc<EventHub>) -> Arc<Self> {
        Arc::new(Self {
            per_client: PerClient::new(settings.connections_per_client),
            operations: PerClient::new(settings.subscriptions_per_connection),
            settings,
            hub,
            draining: watch::channel(false).0,
        })
    }

    /// Tells every socket to close with 1001 (the server is going away).
    pub fn drain(&self) {
        self.draining.send_replace(true);
    }

    /// Completes once every socket has closed.
    pub async fn drained(&self) {
        self.draining.closed().await;
    }

    /// A place for one more socket of `client`, unless it has `connections_per_client` already.
    fn admit(&self, client: &str) -> Option<ClientSocket> {
        self.per_client.enter(client.to_owned())
    }

    /// A place for one more query or mutation of `client` at work, unless it has
    /// `subscriptions_per_connection` already (over all its sockets).
    fn start_operation(&self, client: &str) -> Option<ClientSlot<String>> {
        self.operations.enter(client.to_owned())
    }
}

/// One admitted socket of a client address; gives its place back when dropped.
type ClientSocket = ClientSlot<String>;

fn wants_websocket(headers: &HeaderMap) -> bool {
    headers
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn offers_subprotocol(headers: &HeaderMap) -> bool {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(protocol::SUBPROTOCOL))
}

/// `GET /graphql`: a WebSocket upgrade for subscriptions, or a query over HTTP.
pub async fn get_graphql(
    State(state): State<SharedState>,
    Extension(client_ip): Extension<ClientIp>,
    request: Request,
) -> Response {
    let (mut parts, _) = request.into_parts();
    if !wants_websocket(&parts.headers) {
        return graphql::get_graphql(State(state), Extension(client_ip), parts.headers, parts.uri)
            .await;
    }
    if !offers_subprotocol(&parts.headers) {
        let body = serde_json::json!({ "errors": [{
            "message": "subscriptions speak graphql-ws: offer the `graphql-transport-ws` subprotocol",
            "extensions": { "code": "BAD_USER_INPUT" },
        }] });
        return (
            StatusCode::BAD_REQUEST,
            [(CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
    }
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let slot = parts.extensions.get::<ConnectionSlot>().cloned();
    let sockets = Arc::clone(&state.sockets);
    let admitted = sockets.admit(&client_ip.0);
    let max = sockets.settings.max_message_bytes;
    let mut response = upgrade
        .protocols([protocol::SUBPROTOCOL])
        .max_message_size(max)
        .max_frame_size(max)
        // tungstenite allocates its read buffer up front, 128 KiB by default: most of an idle socket's memory.
        // Clients send little (init, subscribe, pong); larger messages still arrive, in more reads.
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            session::run(socket, state, client_ip.0, admitted, slot).await;
        });
    // The request's extensions hold how the client spelled each header name (the server loop keeps
    // header case); the answer spells its headers the same way, for clients that look up
    // `Sec-WebSocket-Protocol` case-sensitively (Python gql).
    response.extensions_mut().extend(parts.extensions);
    response
}
