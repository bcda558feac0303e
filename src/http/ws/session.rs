//! One graphql-ws socket: `connection_init` (with its token) within the timeout, then operations —
//! subscriptions, queries and mutations — each running in a task of its own that hands its messages to the
//! socket's bounded send queue.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{SinkExt, StreamExt};
use tokio::sync::{Notify, broadcast, mpsc};

use self::outbox::{NotQueued, Outbox, Outgoing};
use tokio::task::AbortHandle;

use super::protocol::{self, ClientMessage, close};
use super::{ClientSocket, SharedState};
use crate::domain::{AppError, User};
use crate::graphql::pipeline::{Authorization, bearer_token};
use crate::graphql::subscription::hub::EventHub;
use crate::http::serve::ConnectionSlot;
use crate::telemetry::metrics;

mod operation;
mod outbox;
mod subscribe;

/// Why a socket ended: its close code (none when the client went first) and a reason for the log.
struct Ending {
    code: Option<u16>,
    reason: String,
}

impl Ending {
    fn close(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code: Some(code),
            reason: reason.into(),
        }
    }

    fn gone(reason: impl Into<String>) -> Self {
        Self {
            code: None,
            reason: reason.into(),
        }
    }
}

/// Who is connected, once `connection_init` was accepted.
struct Viewer {
    user: Option<User>,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// As sent in `connection_init`: the credentials of every query and mutation sent over the socket.
    authorization: Authorization,
}

/// A subscription, or a query or mutation, running over the socket.
struct Running {
    task: AbortHandle,
    /// The subscription's root field (`None`: a query or mutation).
    field: Option<&'static str>,
    generation: u64,
}

impl Running {
    /// Counts it out of the open subscriptions' gauge, if it is one.
    fn ended(&self) {
        if let Some(field) = self.field {
            metrics::subscriptions(field, -1);
        }
    }
}

/// How long a subscribe may take to start listening before the socket reads on.
const LISTEN_WAIT: Duration = Duration::from_secs(5);

/// How long a closing socket may take to flush its queue and close frame.
const CLOSE_FLUSH: Duration = Duration::from_secs(1);

pub(super) async fn run(
    socket: WebSocket,
    state: SharedState,
    client_ip: String,
    admitted: Option<ClientSocket>,
    slot: Option<ConnectionSlot>,
) {
    let started = Instant::now();
    let connection_id = uuid::Uuid::new_v4().simple().to_string();
    let sockets = Arc::clone(&state.sockets);
    let mut draining = sockets.draining.subscribe();
    let (mut sink, stream) = socket.split();
    let (out, mut queue) = outbox::outbox(
        sockets.settings.send_buffer,
        sockets.settings.send_buffer_bytes,
    );
    let writer = tokio::spawn(async move {
        while let Some(message) = queue.recv().await {
            let sent = match message {
                Outgoing::Text(text) => {
                    let len = text.len();
                    let sent = sink.send(Message::Text(text.into())).await;
                    queue.sent(len);
                    sent
                }
                Outgoing::Close(code, reason) => {
                    let frame = CloseFrame {
                        code,
                        reason: close_reason(&reason).into(),
                    };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    break;
                }
            };
            if sent.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    metrics::ws_connections(1);
    tracing::info!(
        target: "board::api",
        connection_id = %connection_id,
        client_ip = %client_ip,
        "graphql-ws connection opened"
    );
    let mut session = Session {
        state: Arc::clone(&state),
        connection_id: connection_id.clone(),
        client_ip: client_ip.clone(),
        out: out.clone(),
        hub: Arc::clone(&sockets.hub),
        too_slow: Arc::new(Notify::new()),
        viewer: None,
        running: HashMap::new(),
        slot: slot.clone(),
        generation: 0,
        subscribed: 0,
    };
    let ending = if admitted.is_none() {
        Ending::close(close::TOO_MANY, "too many sockets from this client address")
    } else if *draining.borrow_and_update() {
        Ending::close(close::GOING_AWAY, "the server is shutting down")
    } else {
        session.serve(stream, &mut draining).await
    };
    let subscriptions = session.subscribed;
    let user = session
        .viewer
        .as_ref()
        .and_then(|v| v.user.as_ref())
        .map_or_else(|| "anonymous".to_owned(), |u| u.id.to_string());
    session.stop_all();
    if let Some(code) = ending.code {
        // A full queue means the client is not reading: the close frame cannot wait for it.
        out.close(code, ending.reason.clone());
    }
    drop(out);
    drop(session);
    let mut writer = writer;
    if tokio::time::timeout(CLOSE_FLUSH, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    metrics::ws_connections(-1);
    tracing::info!(
        target: "board::api",
        connection_id = %connection_id,
        client_ip = %client_ip,
        close_code = ending.code.unwrap_or(0),
        reason = %ending.reason,
        subscriptions = subscriptions,
        duration_ms = started.elapsed().as_millis() as u64,
        user = %user,
        "graphql-ws connection closed"
    );
    drop(admitted);
    drop(slot);
    drop(draining);
}

struct Session {
    state: SharedState,
    connection_id: String,
    client_ip: String,
    out: Outbox,
    hub: Arc<EventHub>,
    /// Raised by a subscription that fell too far behind.
    too_slow: Arc<Notify>,
    viewer: Option<Viewer>,
    running: HashMap<String, Running>,
    /// The connection's slot, held by that work too.
    slot: Option<ConnectionSlot>,
    generation: u64,
    /// Subscriptions started over the socket's life.
    subscribed: u64,
}

/// Sleeps until `at`, or forever.
async fn until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Session {
    async fn serve(
        &mut self,
        mut stream: futures::stream::SplitStream<WebSocket>,
        draining: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Ending {
        let settings = self.state.sockets.settings.clone();
        let init_deadline = tokio::time::Instant::now() + settings.init_timeout;
        let mut keepalive = tokio::time::interval(settings.keepalive);
        keepalive.reset();
        let mut recheck = tokio::time::interval(settings.recheck);
        recheck.reset();
        let (ended_tx, mut ended) = mpsc::unbounded_channel::<(String, u64)>();
        let too_slow = Arc::clone(&self.too_slow);
        let mut account_changes = self.state.sockets.hub.account_changes();
        let mut accounts_heard = true;
        loop {
            let acked = self.viewer.is_some();
            let expiry = self.viewer.as_ref().and_then(|v| v.expires_at).map(|at| {
                let left = (at - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO);
                tokio::time::Instant::now() + left
            });
            let ending = tokio::select! {
                incoming = stream.next() => match incoming {
                    None => Some(Ending::gone("the client went away")),
                    Some(Err(err)) => Some(read_failed(&err)),
                    Some(Ok(Message::Text(text))) => self.on_message(text.as_str(), &ended_tx).await,
                    Some(Ok(Message::Binary(_))) => Some(Ending::close(close::BAD_MESSAGE, "graphql-ws messages are text")),
                    Some(Ok(Message::Close(_))) => Some(Ending::gone("the client closed the socket")),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                },
                () = tokio::time::sleep_until(init_deadline), if !acked => {
                    Some(Ending::close(close::INIT_TIMEOUT, "connection_init did not arrive in time"))
                }
                () = until(expiry), if expiry.is_some() => {
                    Some(Ending::close(close::UNAUTHORIZED, "the access token expired"))
                }
                _ = recheck.tick(), if acked => self.recheck_user(false).await,
                changed = account_changes.recv(), if acked && accounts_heard => match changed {
                    Ok(user) if self.viewer_id() == Some(user) => self.recheck_user(true).await,
                    Ok(_) => None,
                    Err(broadcast::error::RecvError::Lagged(_)) => self.recheck_user(true).await,
                    Err(broadcast::error::RecvError::Closed) => {
                        accounts_heard = false;
                        None
                    }
                },
                _ = keepalive.tick() => self.send(protocol::ping()),
                () = too_slow.notified() => {
                    Some(Ending::close(close::TOO_SLOW, "the client does not read its events fast enough"))
                }
                Some((id, generation)) = ended.recv() => {
                    if self.running.get(&id).is_some_and(|r| r.generation == generation)
                        && let Some(done) = self.running.remove(&id)
                    {
                        done.ended();
                    }
                    None
                }
                () = crate::http::serve::stopped(draining) => {
                    Some(Ending::close(close::GOING_AWAY, "the server is shutting down"))
                }
            };
            if let Some(ending) = ending {
                return ending;
            }
        }
    }

    /// Queues a message; a full queue means the client does not read.
    fn send(&self, text: String) -> Option<Ending> {
        match self.out.text(text) {
            Ok(()) => None,
            Err(NotQueued::Full) => {
                metrics::events_dropped("slow_subscriber", 1);
                Some(Ending::close(
                    close::TOO_SLOW,
                    "the client does not read its messages fast enough",
                ))
            }
            Err(NotQueued::Closed) => Some(Ending::gone("the socket could not be written")),
        }
    }

    async fn on_message(
        &mut self,
        text: &str,
        ended: &mpsc::UnboundedSender<(String, u64)>,
    ) -> Option<Ending> {
        let message = match ClientMessage::parse(text) {
            Ok(message) => message,
            Err(reason) => return Some(Ending::close(close::BAD_MESSAGE, reason)),
        };
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.viewer.is_some() {
                    return Some(Ending::close(
                        close::TOO_MANY,
                        "too many initialisation requests",
                    ));
                }
                match self.authenticate(payload.as_ref()).await {
                    Ok(viewer) => {
                        self.viewer = Some(viewer);
                        self.send(protocol::ack())
                    }
                    Err(reason) => Some(Ending::close(close::FORBIDDEN, reason)),
                }
            }
            ClientMessage::Ping { payload } => self.send(protocol::pong(payload)),
            ClientMessage::Pong { .. } => None,
            ClientMessage::Subscribe { id, payload } => {
                if self.viewer.is_none() {
                    return Some(Ending::close(close::UNAUTHORIZED, "Unauthorized"));
                }
                if self.running.contains_key(&id) {
                    return Some(Ending::close(
                        close::DUPLICATE_ID,
                        format!("Subscriber for {id} already exists"),
                    ));
                }
                self.subscribe(id, *payload, ended).await
            }
            ClientMessage::Complete { id } => {
                if let Some(done) = self.running.remove(&id) {
                    done.task.abort();
                    done.ended();
                }
                None
            }
        }
    }

    /// The user behind `connection_init`'s `authorization`, checked like an HTTP request's: a value that
    /// does not verify, or names a user who may no longer act, is refused (never served as anonymous).
    async fn authenticate(&self, payload: Option<&serde_json::Value>) -> Result<Viewer, String> {
        let value = match protocol::authorization(payload) {
            None => {
                return Ok(Viewer {
                    user: None,
                    expires_at: None,
                    authorization: Authorization::Absent,
                });
            }
            Some(Err(())) => return Err("authorization must be a string".into()),
            Some(Ok(value)) => value,
        };
        let user = self
            .state
            .pipeline
            .authenticate(Some(value))
            .await
            .map_err(|err| match err {
                AppError::Unauthenticated(reason) => reason,
                AppError::Unavailable(_) => "the service is unavailable; retry later".to_owned(),
                _ => "the access token could not be checked".to_owned(),
            })?;
        // Verified above; read again for the expiry the socket must not outlive.
        let expires_at = bearer_token(value)
            .and_then(|token| {
                self.state
                    .services
                    .accounts
                    .verify_access_claims(token)
                    .ok()
            })
            .map(|claims| claims.expires_at);
        Ok(Viewer {
            user,
            expires_at,
            authorization: Authorization::Value(value.to_owned()),
        })
    }

    fn viewer_id(&self) -> Option<crate::domain::UserId> {
        Some(self.viewer.as_ref()?.user.as_ref()?.id)
    }

    /// Closes the socket of a user who was blocked or resigned since it opened. `fresh`: read from the
    /// database (on hearing that the account changed, a near-cached copy may not know yet).
    async fn recheck_user(&mut self, fresh: bool) -> Option<Ending> {
        let id = self.viewer_id()?;
        let accounts = &self.state.services.accounts;
        let found = if fresh {
            accounts.users_from_primary(&[id]).await
        } else {
            accounts.users_by_ids(&[id]).await
        };
        match found {
            Ok(mut found) => match found.remove(&id) {
                Some(user) if user.may_act() => {
                    if let Some(viewer) = &mut self.viewer {
                        viewer.user = Some(user);
                    }
                    None
                }
                _ => Some(Ending::close(
                    close::FORBIDDEN,
                    "this account may no longer act",
                )),
            },
            // Unknown now: checked again next time.
            Err(_) => None,
        }
    }

    fn stop_all(&mut self) {
        for (_, running) in self.running.drain() {
            running.task.abort();
            running.ended();
        }
    }
}

/// A close frame's reason holds at most 123 bytes (RFC 6455 §5.5): longer ones are cut at a character.
fn close_reason(reason: &str) -> &str {
    const MAX: usize = 123;
    if reason.len() <= MAX {
        return reason;
    }
    let mut end = MAX;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

fn read_failed(err: &axum::Error) -> Ending {
    let text = err.to_string();
    if text.contains("too long") || text.contains("too big") || text.contains("Space limit") {
        Ending::close(close::TOO_BIG, "the message is larger than allowed")
    } else {
        Ending::gone(format!("the socket failed: {text}"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn close_reasons_fit_a_frame() {
        assert_eq!(super::close_reason("short"), "short");
        let long = "é".repeat(100);
        let cut = super::close_reason(&long);
        assert!(cut.len() <= 123 && long.starts_with(cut) && !cut.is_empty());
    }
}
