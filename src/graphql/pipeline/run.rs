//! Execution of the operations that passed preparation: authentication, the request's loaders, one engine
//! batch inside the request's state (entered once, by `Pipeline::answer`), a query bounded by the request
//! timeout.

use std::sync::Arc;

use async_graphql::{BatchRequest, BatchResponse, Request, Response};
use tracing::Instrument;

use super::Pipeline;
use super::auth::{Authorization, authenticate};
use crate::domain::{AppError, UserId};
use crate::graphql::batches::{RequestBatches, drive};
use crate::graphql::budget::{TextBudget, too_large_message};
use crate::graphql::cost::CostLedger;
use crate::graphql::errors::error_response;
use crate::graphql::loaders::Loaders;
use crate::graphql::viewer_reads::{Path, Slot};
use crate::graphql::{RequestContext, Requester};
use crate::request::{self, RequestState};

/// One request's execution.
pub(super) struct Run<'a> {
    pub pipeline: &'a Pipeline,
    /// Whose points the operations spend (known once the viewer is).
    pub ledger: &'a Arc<CostLedger>,
    pub scope: &'a Arc<RequestState>,
    pub credentials: &'a Authorization,
    pub request_id: &'a str,
    pub client_ip: &'a str,
    /// Whether any operation is not a query (then every read goes to the primary).
    pub writes: bool,
    /// Record what the answer takes from its viewer (the response cache may keep it for every member).
    pub record_viewer: bool,
}

/// What execution answered.
pub(super) struct Executed {
    /// One response per request, in order.
    pub responses: Vec<Response>,
    /// `None`: anonymous, or refused.
    pub viewer: Option<UserId>,
    /// With `record_viewer`, signed in: the viewer's own fields of the answer, if nothing else of it
    /// depended on the viewer (see `RequestContext::slots`).
    pub slots: Option<Vec<(Path, Slot)>>,
}

/// Executes `runnable` and answers one response per request, in order, with the viewer. A refused token
/// answers every operation with the refusal.
pub(super) async fn execute(run: Run<'_>, runnable: Vec<Request>) -> Executed {
    let Run {
        pipeline,
        ledger,
        scope,
        credentials,
        request_id,
        client_ip,
        writes,
        record_viewer,
    } = run;
    let runs = runnable.len();
    let batches = RequestBatches::new();
    let board = &pipeline.services.board;
    let mut viewer = None;
    let mut slots = None;
    // Boxed once here, so the wrappers below (timeout, span) move a pointer, not the whole
    // execution state.
    let work = Box::pin(async {
        if runnable.is_empty() {
            return Vec::new();
        }
        let users = Loaders::users(Arc::clone(&pipeline.services.accounts), &batches, scope);
        let actor = match authenticate(&pipeline.services.accounts, credentials, &users).await {
            Ok(actor) => actor,
            // Every operation of the batch answers the refusal.
            Err(err) => {
                return (0..runnable.len())
                    .map(|_| error_response(&err, request_id))
                    .collect();
            }
        };
        viewer = actor.as_ref().map(|a| a.id);
        ledger.identify(viewer);
        if board.has_replica() && !writes {
            request::allow_replica(board.replica_allowed_for(viewer).await);
        }
        let requester = Requester {
            actor,
            request_id: request_id.to_owned(),
            client_ip: client_ip.to_owned(),
        };
        let budget = TextBudget::new(pipeline.max_response_bytes);
        let build = if record_viewer {
            RequestContext::recording
        } else {
            RequestContext::new
        };
        let context = build(
            &pipeline.services,
            users,
            requester,
            budget,
            &batches,
            scope,
        );
        let responses = if writes && runnable.len() > 1 {
            let signed_in = viewer.is_some();
            in_order(
                pipeline,
                &context,
                ledger,
                credentials,
                request_id,
                signed_in,
                runnable,
            )
            .await
        } else {
            at_once(pipeline, &context, ledger, runnable).await
        };
        if context.budget.exceeded() {
            return refuse_over_budget(responses, pipeline.max_response_bytes);
        }
        slots = context.slots();
        responses
    });
    // Every event of the request (batches, slow queries, errors) carries its id: the operation's span
    // (named by the pipeline, with the request id).
    let span = scope.span().clone();
    let driven = drive(Arc::clone(&batches), work).instrument(span);
    // A query stops at the timeout; a mutation runs to its end, its transport having stopped waiting
    // (`Pipeline::answer`).
    let executed = if writes {
        Ok(driven.await)
    } else {
        tokio::time::timeout(pipeline.request_timeout, driven).await
    };
    if writes && let Some(writer) = viewer {
        // Before the answer leaves: the writer's next request, on any process, reads the primary.
        board.record_write(writer).await;
    }
    let responses = match executed {
        Ok(list) => list,
        Err(_) => {
            tracing::warn!(request_id = %request_id, timeout = ?pipeline.request_timeout, "request timed out");
            let err = AppError::Unavailable(format!(
                "the request took longer than {} ms and was stopped; retry later",
                pipeline.request_timeout.as_millis()
            ));
            (0..runs)
                .map(|_| error_response(&err, request_id))
                .collect()
        }
    };
    Executed {
        responses,
        viewer,
        slots,
    }
}

/// Runs a batch with a write among its operations: one after another, in order, each reading after the
/// ones before (the engine would run them at once, sharing the request's loaders). The viewer is checked
/// again before each operation after the first: one before may have taken their right to act (a
/// resignation), as the next request would find.
async fn in_order(
    pipeline: &Pipeline,
    context: &Arc<RequestContext>,
    ledger: &Arc<CostLedger>,
    credentials: &Authorization,
    request_id: &str,
    signed_in: bool,
    runnable: Vec<Request>,
) -> Vec<Response> {
    let mut responses = Vec::with_capacity(runnable.len());
    for (i, operation) in runnable.into_iter().enumerate() {
        context.loaders.forget_all();
        if i > 0 && signed_in {
            let users = &context.loaders.users;
            if let Err(err) = authenticate(&pipeline.services.accounts, credentials, users).await {
                responses.push(error_response(&err, request_id));
                continue;
            }
        }
        let operation = operation.data(Arc::clone(context)).data(Arc::clone(ledger));
        responses.push(pipeline.schema.execute(operation).await);
    }
    responses
}

/// Runs the operations as one engine batch (at once).
async fn at_once(
    pipeline: &Pipeline,
    context: &Arc<RequestContext>,
    ledger: &Arc<CostLedger>,
    runnable: Vec<Request>,
) -> Vec<Response> {
    let batch = BatchRequest::Batch(runnable)
        .data(Arc::clone(context))
        .data(Arc::clone(ledger));
    match pipeline.schema.execute_batch(batch).await {
        BatchResponse::Single(r) => vec![r],
        BatchResponse::Batch(list) => list,
    }
}

/// The responses of a request whose text went over the response cap while it was resolved: each one that
/// hit the cap answers only that error (with the path of the field where it happened) and none of its data
/// (the partial-result repair then puts the error's `null` in place); the others stay (a batch's earlier
/// operations that fit).
fn refuse_over_budget(mut responses: Vec<Response>, cap: usize) -> Vec<Response> {
    let message = too_large_message(cap);
    for response in &mut responses {
        if let Some(first) = response.errors.iter().position(|e| e.message == message) {
            let error = response.errors.swap_remove(first);
            response.errors = vec![error];
            response.data = async_graphql::Value::Null;
        }
    }
    responses
}
