//! Starting one subscription: the operation's checks, its request context and loaders, and the task that
//! runs it and hands its messages to the socket's send queue.

use std::sync::Arc;

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection};
use futures::StreamExt;
use tokio::sync::{Notify, mpsc};

use super::outbox::NotQueued;
use super::{Ending, LISTEN_WAIT, Running, Session};
use crate::graphql::batches::{RequestBatches, drive};
use crate::graphql::budget::TextBudget;
use crate::graphql::errors::finish_response;
use crate::graphql::loaders::Loaders;
use crate::graphql::subscription::Subscriber;
use crate::graphql::{RequestContext, Requester};
use crate::http::ws::protocol;
use crate::request::RequestState;
use crate::telemetry::metrics;

impl Session {
    pub(super) async fn subscribe(
        &mut self,
        id: String,
        mut request: async_graphql::Request,
        ended: &mpsc::UnboundedSender<(String, u64)>,
    ) -> Option<Ending> {
        let limit = self.state.sockets.settings.subscriptions_per_connection;
        let user = self
            .viewer
            .as_ref()
            .and_then(|v| v.user.as_ref())
            .map_or_else(|| "anonymous".to_owned(), |u| u.id.to_string());
        let operation_name = request.operation_name.clone();
        let log = |field: &str, outcome: &str| {
            tracing::info!(
                target: "board::api",
                connection_id = %self.connection_id,
                subscription_id = %id,
                operation_name = operation_name.as_deref().unwrap_or("anonymous"),
                operation_type = "subscription",
                field = field,
                user = %user,
                client_ip = %self.client_ip,
                outcome = outcome,
                "graphql subscribe"
            );
        };
        if self.running.len() >= limit {
            log("-", "RATE_LIMITED");
            return self.send(
                serde_json::json!({
                    "type": "error",
                    "id": id,
                    "payload": [{
                        "message": format!("a socket runs at most {limit} subscriptions; complete one first"),
                        "extensions": { "code": "RATE_LIMITED" },
                    }],
                })
                .to_string(),
            );
        }
        if request.query.is_empty() {
            // A persisted document named by its hash: the pipeline finds it (and refuses a subscription).
            return self.run_operation(id, request, ended);
        }
        // The limits of every operation (tokens, nesting, aliases, depth; its cost is bounded as it validates).
        let document = match self.state.pipeline.check_operation(&request.query) {
            Ok(document) => document,
            Err(refusal) => {
                log("-", refusal.code);
                return self.send(protocol::coded_error(&id, refusal.code, &refusal.message));
            }
        };
        let field = match subscription_field(&document, request.operation_name.as_deref()) {
            Ok(Root::Subscription(field)) => field,
            Ok(Root::QueryOrMutation) => return self.run_operation(id, request, ended),
            Err(message) => {
                log("-", "BAD_USER_INPUT");
                return self.send(protocol::coded_error(&id, "BAD_USER_INPUT", &message));
            }
        };
        request.set_parsed_query((*document).clone());
        log(field, "ok");
        // The subscription is one request: its state begins now and its task enters it once, for the
        // operation's start and every event it answers.
        let request_state = RequestState::begin();
        let batches = RequestBatches::new();
        let services = &self.state.services;
        let request_id = format!("{}/{id}", self.connection_id);
        let users = Loaders::users(Arc::clone(&services.accounts), &batches, &request_state);
        let requester = Requester {
            actor: self.viewer.as_ref().and_then(|v| v.user.clone()),
            request_id: request_id.clone(),
            client_ip: self.client_ip.clone(),
        };
        // A socket message has its own bound (ws_max_message_bytes for what comes in, the send buffer for
        // what goes out).
        let budget = TextBudget::unlimited();
        let context =
            RequestContext::new(services, users, requester, budget, &batches, &request_state);
        let subscriber = Arc::new(Subscriber {
            hub: Arc::clone(&self.hub),
            too_slow: Arc::clone(&self.too_slow),
            listening: Notify::new(),
        });
        let request = request.data(context).data(Arc::clone(&subscriber));
        let mut responses = self.state.schema.execute_stream(request);
        let out = self.out.clone();
        let too_slow = Arc::clone(&self.too_slow);
        let started = Arc::clone(&subscriber);
        self.generation += 1;
        let generation = self.generation;
        let ended = ended.clone();
        let task_id = id.clone();
        let delivering = Arc::clone(&request_state);
        let answer = async move {
            let mut first = true;
            loop {
                let Some(response) = drive(Arc::clone(&batches), responses.next()).await else {
                    let _ = out.text(protocol::complete(&task_id));
                    break;
                };
                // Like over HTTP: every error gets a code, and internal ones are masked (logged).
                let response = finish_response(response, &request_id);
                // Refused before it ran (validation, arguments, the post does not exist): an `error`
                // message, which ends the subscription.
                if first && response.data == async_graphql::Value::Null && response.is_err() {
                    let _ = out.text(protocol::error(&task_id, &response.errors));
                    break;
                }
                first = false;
                let queued = out.text(protocol::next(&task_id, &response));
                // The event's delivery span (if any) ends once its answer is queued for the socket.
                delivering.handled();
                if let Err(NotQueued::Full) = queued {
                    metrics::events_dropped("slow_subscriber", 1);
                    too_slow.notify_one();
                    break;
                }
            }
            delivering.handled();
            started.listening.notify_one();
            let _ = ended.send((task_id, generation));
        };
        let task = tokio::spawn(async move { request_state.run(answer).await });
        // The next message is read once this subscription listens (or ended): an event written after the
        // client saw the server take a later message is heard.
        let _ = tokio::time::timeout(LISTEN_WAIT, subscriber.listening.notified()).await;
        metrics::subscriptions(field, 1);
        self.subscribed += 1;
        self.running.insert(
            id,
            Running {
                task: task.abort_handle(),
                field: Some(field),
                generation,
            },
        );
        None
    }
}

/// What the operation `operation_name` selects is.
enum Root {
    /// A subscription of this root field (a label for metrics and logs).
    Subscription(&'static str),
    /// Runs through the pipeline, as over HTTP.
    QueryOrMutation,
}

/// What the operation `operation_name` selects is, or why it may not run as a subscription.
fn subscription_field(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Result<Root, String> {
    let operation = document
        .operations
        .iter()
        .find(|(name, _)| match (operation_name, name) {
            (Some(wanted), Some(name)) => wanted == name.as_str(),
            (None, _) => true,
            (Some(_), None) => false,
        })
        .map(|(_, op)| op);
    let Some(operation) = operation else {
        // The pipeline says which operation is missing.
        return Ok(Root::QueryOrMutation);
    };
    if operation.node.ty != OperationType::Subscription {
        return Ok(Root::QueryOrMutation);
    }
    // The spec's single root field (the engine would run every aliased root field as a stream of its
    // own, so one subscription could cost as many as the aliases allow), and no fragment at the root
    // (the engine ends such a subscription at once, without a word).
    let items = &operation.node.selection_set.node.items;
    let first = match items.as_slice() {
        [only] => match &only.node {
            Selection::Field(field) => Some(field.node.name.node.as_str()),
            _ => None,
        },
        _ => None,
    };
    let Some(first) = first else {
        return Err("a subscription selects exactly one root field, without fragments".into());
    };
    Ok(Root::Subscription(match first {
        "postAdded" => "postAdded",
        "commentAdded" => "commentAdded",
        "postUpdated" => "postUpdated",
        "reportAdded" => "reportAdded",
        "notificationAdded" => "notificationAdded",
        _ => "other",
    }))
}
