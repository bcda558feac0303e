//! A query or mutation sent over the socket runs through the same pipeline as an HTTP request — limits,
//! persisted and trusted documents, the credentials of `connection_init`, kept answers, metrics and the log
//! line — and is answered `next` then `complete`, or `error` when it was refused before it ran.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::outbox::NotQueued;
use super::{Ending, Running, Session};
use crate::graphql::pipeline::{Authorization, Incoming, Media, Operations};
use crate::http::ws::protocol;
use crate::telemetry::metrics;

impl Session {
    /// Starts `request` in a task of its own; the socket reads on meanwhile, and `complete` stops it
    /// unless it writes (a mutation runs to its end: `Pipeline::answer`).
    pub(super) fn run_operation(
        &mut self,
        id: String,
        request: async_graphql::Request,
        ended: &mpsc::UnboundedSender<(String, u64)>,
    ) -> Option<Ending> {
        // Counted per address, over all its sockets, until the work ends: sockets that send mutations
        // and complete them at once must not pile work up.
        let Some(at_work) = self.state.sockets.start_operation(&self.client_ip) else {
            let limit = self.state.sockets.settings.subscriptions_per_connection;
            metrics::rate_limited("ws_operations_per_client");
            return self.send(protocol::coded_error(
                &id,
                "RATE_LIMITED",
                &format!(
                    "a client address runs at most {limit} operations at once over its sockets; \
                     wait for one to end"
                ),
            ));
        };
        let hold = (at_work, self.slot.clone());
        let operations = Operations {
            requests: vec![Incoming::from(request)],
            batch: false,
            queries_only: false,
            authorization: self
                .viewer
                .as_ref()
                .map_or(Authorization::Absent, |v| v.authorization.clone()),
            request_id: format!("{}/{id}", self.connection_id),
            client_ip: self.client_ip.clone(),
            media: Media::Json,
        };
        let pipeline = Arc::clone(&self.state.pipeline);
        let out = self.out.clone();
        let too_slow = Arc::clone(&self.too_slow);
        self.generation += 1;
        let generation = self.generation;
        let ended = ended.clone();
        let task_id = id.clone();
        let task = tokio::spawn(async move {
            let request = pipeline.begin_request(None);
            let answer = pipeline.answer(operations, request, hold).await;
            for message in protocol::answer(&task_id, &answer.body) {
                if let Err(NotQueued::Full) = out.text(message) {
                    metrics::events_dropped("slow_subscriber", 1);
                    too_slow.notify_one();
                    break;
                }
            }
            let _ = ended.send((task_id, generation));
        });
        self.running.insert(
            id,
            Running {
                task: task.abort_handle(),
                field: None,
                generation,
            },
        );
        None
    }
}
