//! The `graphql-transport-ws` protocol's messages and the close codes this server uses.

use serde::Deserialize;
use serde_json::{Value, json};

pub const SUBPROTOCOL: &str = "graphql-transport-ws";

/// Close codes (graphql-ws's where it has one; RFC 6455's otherwise).
pub mod close {
    /// The server is shutting down: reconnect (to another replica).
    pub const GOING_AWAY: u16 = 1001;
    /// The client fell too far behind: its buffer filled up.
    pub const TOO_SLOW: u16 = 1008;
    /// A message was larger than `ws_max_message_bytes`.
    pub const TOO_BIG: u16 = 1009;
    pub const INTERNAL: u16 = 1011;
    /// Not a message of the protocol.
    pub const BAD_MESSAGE: u16 = 4400;
    /// `subscribe` before `connection_ack`, or the access token expired.
    pub const UNAUTHORIZED: u16 = 4401;
    /// The token in `connection_init` does not verify, or its user was blocked or resigned.
    pub const FORBIDDEN: u16 = 4403;
    /// No `connection_init` in time.
    pub const INIT_TIMEOUT: u16 = 4408;
    /// A subscription with this id is already running.
    pub const DUPLICATE_ID: u16 = 4409;
    /// A second `connection_init`, or too many sockets from the client's address.
    pub const TOO_MANY: u16 = 4429;
}

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<Value>,
    },
    Pong {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Value>,
    },
    Subscribe {
        id: String,
        payload: Box<async_graphql::Request>,
    },
    Complete {
        id: String,
    },
}

impl ClientMessage {
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("not a graphql-transport-ws message: {e}"))
    }
}

/// The `authorization` value of a `connection_init` payload (key matched ignoring case): `None` when
/// absent (anonymous), `Some(Err)` when present but not a string.
pub fn authorization(payload: Option<&Value>) -> Option<Result<&str, ()>> {
    let object = payload?.as_object()?;
    let (_, value) = object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))?;
    Some(value.as_str().ok_or(()))
}

pub fn ack() -> String {
    json!({ "type": "connection_ack" }).to_string()
}

pub fn ping() -> String {
    json!({ "type": "ping" }).to_string()
}

pub fn pong(payload: Option<Value>) -> String {
    match payload {
        Some(payload) => json!({ "type": "pong", "payload": payload }).to_string(),
        None => json!({ "type": "pong" }).to_string(),
    }
}

pub fn next(id: &str, payload: &async_graphql::Response) -> String {
    json!({ "type": "next", "id": id, "payload": payload }).to_string()
}

pub fn error(id: &str, errors: &[async_graphql::ServerError]) -> String {
    json!({ "type": "error", "id": id, "payload": errors }).to_string()
}

/// An `error` message with one coded error.
pub fn coded_error(id: &str, code: &str, message: &str) -> String {
    json!({
        "type": "error",
        "id": id,
        "payload": [{ "message": message, "extensions": { "code": code } }],
    })
    .to_string()
}

pub fn complete(id: &str) -> String {
    json!({ "type": "complete", "id": id }).to_string()
}

/// The messages answering a query or mutation from the pipeline's JSON `body`: `next` with the response,
/// then `complete`; or `error` alone with the errors when it was refused before it ran (no `data`).
pub fn answer(id: &str, body: &[u8]) -> Vec<String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut response)) if !response.contains_key("data") => {
            let errors = response.remove("errors").unwrap_or_else(|| json!([]));
            vec![json!({ "type": "error", "id": id, "payload": errors }).to_string()]
        }
        Ok(response @ Value::Object(_)) => vec![
            json!({ "type": "next", "id": id, "payload": response }).to_string(),
            complete(id),
        ],
        _ => vec![coded_error(
            id,
            "INTERNAL_SERVER_ERROR",
            "the answer could not be encoded",
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_key_is_found_in_any_case() {
        let payload = json!({ "Authorization": "Bearer abc" });
        assert_eq!(authorization(Some(&payload)), Some(Ok("Bearer abc")));
        let payload = json!({ "AUTHORIZATION": 42 });
        assert_eq!(authorization(Some(&payload)), Some(Err(())));
        assert_eq!(authorization(Some(&json!({}))), None);
        assert_eq!(authorization(None), None);
    }

    #[test]
    fn an_answer_is_next_and_complete_or_an_error_when_it_never_ran() {
        let ran = answer("7", br#"{"data":{"a":1},"errors":[{"message":"m"}]}"#);
        let next: Value = serde_json::from_str(&ran[0]).unwrap();
        assert_eq!(next["type"], "next");
        assert_eq!(next["payload"]["data"]["a"], 1);
        assert_eq!(next["payload"]["errors"][0]["message"], "m");
        assert_eq!(ran[1], complete("7"));
        let refused = answer("7", br#"{"errors":[{"message":"no"}]}"#);
        let error: Value = serde_json::from_str(&refused[0]).unwrap();
        assert_eq!(refused.len(), 1);
        assert_eq!(
            (error["type"].as_str(), error["id"].as_str()),
            (Some("error"), Some("7"))
        );
        assert_eq!(error["payload"][0]["message"], "no");
    }

    #[test]
    fn client_messages_parse_or_say_why_not() {
        assert!(matches!(
            ClientMessage::parse(
                r#"{"type":"subscribe","id":"1","payload":{"query":"subscription { x }"}}"#
            ),
            Ok(ClientMessage::Subscribe { .. })
        ));
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"connection_init"}"#),
            Ok(ClientMessage::ConnectionInit { payload: None })
        ));
        assert!(ClientMessage::parse(r#"{"type":"start"}"#).is_err());
        assert!(ClientMessage::parse("nope").is_err());
    }
}
