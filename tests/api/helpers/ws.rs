//! A small graphql-ws (`graphql-transport-ws`) client for the subscription tests.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the server sent next.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    Message(Value),
    /// The socket closed: the close code (none for a close without a frame or a dropped connection).
    Closed(Option<u16>),
}

pub struct WsClient {
    socket: Socket,
}

/// How long a test waits for one message before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

impl WsClient {
    /// Opens a socket on `<base>/graphql` offering `graphql-transport-ws`.
    pub async fn connect(base: &str) -> Self {
        let url = format!("{}/graphql", base.replacen("http", "ws", 1));
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
        Self { socket }
    }

    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    /// The next protocol message or the close, answering pings on the way; `None` after `wait`.
    pub async fn hear_within(&mut self, wait: Duration) -> Option<Heard> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()?;
            match next {
                None | Some(Err(_)) => return Some(Heard::Closed(None)),
                Some(Ok(Message::Close(frame))) => {
                    return Some(Heard::Closed(frame.map(|f| u16::from(f.code))));
                }
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str()).unwrap();
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Some(Heard::Message(value));
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn hear(&mut self) -> Heard {
        self.hear_within(WAIT)
            .await
            .expect("the server sent nothing in time")
    }

    /// Sends `connection_init` with `payload` and answers what came back (an ack, or a close).
    pub async fn init(&mut self, payload: Value) -> Heard {
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        self.hear().await
    }

    /// Connects and initialises, as the holder of `token` (anonymous without one).
    pub async fn ready(base: &str, token: Option<&str>) -> Self {
        let mut client = Self::connect(base).await;
        let payload = match token {
            Some(token) => json!({ "authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        assert_eq!(
            client.init(payload).await,
            Heard::Message(json!({ "type": "connection_ack" }))
        );
        client
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({
            "type": "subscribe",
            "id": id,
            "payload": { "query": query, "variables": variables },
        }))
        .await;
    }

    /// Subscribes, then waits until the server listens: it reads the next message (a `ping`, answered by
    /// a `pong`) only once the subscription started.
    pub async fn listen(&mut self, id: &str, query: &str, variables: Value) {
        self.subscribe(id, query, variables).await;
        self.send(json!({ "type": "ping" })).await;
        match self.hear().await {
            Heard::Message(m) if m["type"] == "pong" => {}
            other => panic!("expected the pong after subscribing {id}, heard {other:?}"),
        }
    }

    /// The payload of the next `next` message of `id` (failing on anything else).
    pub async fn next_of(&mut self, id: &str) -> Value {
        match self.hear().await {
            Heard::Message(m) if m["type"] == "next" && m["id"] == id => m["payload"].clone(),
            other => panic!("expected a `next` for {id}, heard {other:?}"),
        }
    }

    /// Waits until the socket closes; answers its close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match self.hear().await {
                Heard::Closed(code) => return code,
                Heard::Message(_) => continue,
            }
        }
    }
}
