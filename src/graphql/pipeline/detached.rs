//! A request runs in a task of its own, which the transport only waits for: a client that goes away, a
//! closed WebSocket or the request timeout stop the waiting, never the work (docs/pipeline.md#runs-to-its-end).

use std::sync::Arc;

use tracing::Instrument;

use super::encode::{self, Media};
use super::{Answer, Operations, Pipeline};
use crate::domain::AppError;
use crate::graphql::errors::error_response;
use crate::request::RequestState;

impl Pipeline {
    /// [`Pipeline::execute`] inside `request`, in a task the caller's future does not own. Past the
    /// request's deadline the caller gets a `SERVICE_UNAVAILABLE` answer while the task goes on: a query
    /// stops itself at that deadline, a mutation runs to its end (a write stopped between its commit and
    /// its cache deletion would leave entries stale; a transaction stopped inside `BEGIN` would leave a
    /// pooled connection in a transaction the pool does not know of).
    pub async fn answer(
        self: &Arc<Self>,
        operations: Operations,
        request: Arc<RequestState>,
    ) -> Answer {
        let shape = Shape {
            runs: operations.requests.len(),
            batch: operations.batch,
            media: operations.media,
            request_id: operations.request_id.clone(),
        };
        let pipeline = Arc::clone(self);
        let deadline = request.deadline();
        let work = async move {
            request
                .run(Box::pin(pipeline.execute(operations, &request)))
                .await
        };
        let task = tokio::spawn(work.instrument(tracing::Span::current()));
        let waited = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), task).await,
            None => Ok(task.await),
        };
        match waited {
            Ok(Ok(answer)) => answer,
            Ok(Err(failed)) => {
                tracing::error!(error = %failed, request_id = %shape.request_id, "the request's task failed");
                shape.every_operation(&AppError::Internal("the request failed".into()))
            }
            Err(_) => shape.every_operation(&AppError::Unavailable(format!(
                "no answer within {} ms; retry later (a change it makes still completes: read it back \
                 before you repeat it)",
                self.request_timeout.as_millis()
            ))),
        }
    }
}

/// What the transport's answer must look like without the pipeline's help.
struct Shape {
    runs: usize,
    batch: bool,
    media: Media,
    request_id: String,
}

impl Shape {
    /// Every operation answers `err` (a batch, one response per operation).
    fn every_operation(&self, err: &AppError) -> Answer {
        let responses: Vec<_> = (0..self.runs.max(1))
            .map(|_| error_response(err, &self.request_id))
            .collect();
        let (outcome, body) = encode::encode(&responses, self.batch, self.media, usize::MAX)
            .unwrap_or((super::Outcome::Answered, Vec::new()));
        Answer {
            outcome,
            media: self.media,
            body,
            round_trips: None,
            max_age: None,
            kept: false,
            budget: None,
            retry_after: None,
            per_request_tail: 0,
        }
    }
}
