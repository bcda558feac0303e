//! A request runs in a task of its own, which the transport only waits for: a client that goes away, a
//! closed WebSocket or the request timeout stop the waiting, never the work (docs/pipeline.md#runs-to-its-end).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::task::AbortHandle;

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
    /// pooled connection in a transaction the pool does not know of). A caller that stops waiting (its
    /// client went away) stops a request of queries only, as if the work were its own.
    ///
    /// The task keeps `hold` until the work ends: what the transport counts per client (a connection's
    /// slot, its address's place for socket operations) stays taken while work it no longer waits for
    /// goes on, so a client that sends and hangs up cannot pile work up.
    pub async fn answer<H: Send + 'static>(
        self: &Arc<Self>,
        operations: Operations,
        request: Arc<RequestState>,
        hold: H,
    ) -> Answer {
        let shape = Shape {
            runs: operations.requests.len(),
            batch: operations.batch,
            media: operations.media,
            request_id: operations.request_id.clone(),
        };
        let pipeline = Arc::clone(self);
        let deadline = request.deadline();
        let writing = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&writing);
        let work = async move {
            let answer = request
                .run(Box::pin(pipeline.execute(operations, &request, &flag)))
                .await;
            drop(hold);
            answer
        };
        let task = tokio::spawn(work.instrument(tracing::Span::current()));
        let mut stop = StopReads {
            task: task.abort_handle(),
            writing,
            armed: true,
        };
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
            Err(_) => {
                // A query past its deadline stops itself, and logs how it ended.
                stop.armed = false;
                shape.every_operation(&overdue(self.request_timeout))
            }
        }
    }
}

fn overdue(timeout: std::time::Duration) -> AppError {
    AppError::Unavailable(format!(
        "no answer within {} ms; retry later (a change it was making may still be made: read it back \
         before you repeat it)",
        timeout.as_millis()
    ))
}

/// Dropped when the caller stops waiting (or has its answer): aborts the task unless it writes or was
/// disarmed. Aborting a finished task does nothing.
struct StopReads {
    task: AbortHandle,
    writing: Arc<AtomicBool>,
    armed: bool,
}

impl Drop for StopReads {
    fn drop(&mut self) {
        if self.armed && !self.writing.load(Ordering::Acquire) {
            self.task.abort();
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
        Answer::without_execution(outcome, self.media, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A task that would run for a minute, and the guard of its caller.
    fn long_task(writing: bool, armed: bool) -> (tokio::task::JoinHandle<()>, StopReads) {
        let task = tokio::spawn(tokio::time::sleep(Duration::from_secs(60)));
        let stop = StopReads {
            task: task.abort_handle(),
            writing: Arc::new(AtomicBool::new(writing)),
            armed,
        };
        (task, stop)
    }

    #[tokio::test]
    async fn a_caller_that_stops_waiting_stops_reads_only() {
        let (reads, stop) = long_task(false, true);
        drop(stop);
        assert!(reads.await.is_err_and(|e| e.is_cancelled()), "reads stop");

        let (writes, stop) = long_task(true, true);
        drop(stop);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!writes.is_finished(), "writes go on");
        writes.abort();

        let (overdue, stop) = long_task(false, false);
        drop(stop);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !overdue.is_finished(),
            "a query past its deadline stops itself"
        );
        overdue.abort();
    }
}
