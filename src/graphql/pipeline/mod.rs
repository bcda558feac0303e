//! The request pipeline, as typed stages between a transport and its answer: prepare → response cache →
//! execute → partial results → encode, ending in an [`Outcome`] the transport maps to its own terms.
//! The stages, the outcome mapping and a picture: docs/pipeline.md.

mod auth;
mod detached;
mod documents;
mod encode;
mod kept;
mod observe;
mod outcome;
mod persisted;
mod points;
mod prepare;
mod response_cache;
mod run;
mod slot_values;
mod template;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_graphql::Request;
use async_graphql::parser::types::ExecutableDocument;

pub use auth::{Authorization, bearer_token};
pub use documents::Documents;
pub use encode::{GRAPHQL_RESPONSE_JSON, Media};
pub use outcome::{ErrorClass, Outcome};
pub use persisted::{NOT_ALLOWED, NOT_FOUND, Persisted};
pub use points::Budget;
pub use prepare::TextLimits;

use crate::domain::{AppError, User};
use crate::graphql::cost::{CostLedger, report_cost};
use crate::graphql::errors::{coded_response, error_response, finish_response};
use crate::graphql::partial::OutputTypes;
use crate::graphql::{BoardSchema, Services};
use crate::request::RequestState;

/// Why an operation is refused before it runs: an `extensions.code` and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
    /// The request itself is malformed: alone (not in a batch), it is a bad request whatever the media
    /// type asked for.
    pub malformed: bool,
}

impl Refusal {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            malformed: false,
        }
    }

    /// A refusal of a malformed request.
    pub fn malformed(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            malformed: true,
            ..Self::new(code, message)
        }
    }

    /// The refusal as a GraphQL response (one error, no `data`).
    pub fn response(&self) -> async_graphql::Response {
        coded_response(self.code, &self.message)
    }
}

/// The settings of the pipeline (from `Config`).
#[derive(Debug, Clone)]
pub struct Settings {
    pub limits: TextLimits,
    /// A request still running after this is stopped and answered `SERVICE_UNAVAILABLE`.
    pub request_timeout: Duration,
    /// Larger response bodies are replaced by a `QUERY_TOO_COMPLEX` error.
    pub max_response_bytes: usize,
    /// How long HTTP caches may keep the answer to an anonymous persisted GET (zero: never).
    pub persisted_get_max_age: Duration,
}

/// Shared by every request.
pub struct Pipeline {
    schema: BoardSchema,
    services: Services,
    limits: TextLimits,
    request_timeout: Duration,
    max_response_bytes: usize,
    persisted_get_max_age: Duration,
    persisted: Persisted,
    /// The schema's output types, for spec partial results.
    output_types: OutputTypes,
    /// Documents parsed before, by query text.
    documents: Documents,
    /// Whole answers of queries, per viewer (with the near cache only).
    answers: Option<response_cache::ResponseCache>,
}

/// One GraphQL request as received.
pub struct Incoming {
    pub request: Request,
    /// The persisted document it names instead of a `query` (`<hash>` or `sha256:<hash>`).
    pub document_id: Option<String>,
    /// Refused by the transport already (an element of a batch that is not a request, a batch too long):
    /// answered with this in its place, nothing of it runs.
    pub refusal: Option<Refusal>,
}

impl From<Request> for Incoming {
    fn from(request: Request) -> Self {
        Self {
            request,
            document_id: None,
            refusal: None,
        }
    }
}

impl Incoming {
    /// An element answered with `refusal` whatever it holds.
    pub fn from_refusal(refusal: Refusal) -> Self {
        Self {
            request: Request::new(""),
            document_id: None,
            refusal: Some(refusal),
        }
    }
}

/// What a transport received: one request, or a batch of them.
pub struct Operations {
    pub requests: Vec<Incoming>,
    /// A JSON array was sent: the answer is an array of the same length.
    pub batch: bool,
    /// Only queries may run (`GET`: a mutation could be triggered by a link or an image on another site).
    pub queries_only: bool,
    pub authorization: Authorization,
    pub request_id: String,
    pub client_ip: String,
    pub media: Media,
}

/// The answer to [`Operations`], ready for the transport.
#[derive(Debug)]
pub struct Answer {
    pub outcome: Outcome,
    pub media: Media,
    /// JSON: one response object, or an array for a batch.
    pub body: Vec<u8>,
    /// (database, cache) round trips the request made; `None` when it never reached execution.
    pub round_trips: Option<(u64, u64)>,
    /// How long shared HTTP caches may keep the answer: set only for an anonymous persisted query sent by
    /// `GET` that succeeded without errors. `None`: it must not be stored.
    pub max_age: Option<Duration>,
    /// Answered from the answers kept in this process (nothing was resolved).
    pub kept: bool,
    /// The points budget after the request (`None`: refused before any operation was looked at).
    pub budget: Option<Budget>,
    /// `retryAfterSeconds` of a request error that is `RATE_LIMITED`.
    pub retry_after: Option<u64>,
    /// Bytes at the end of `body` that are this request's cost numbers (an `ETag` leaves them out).
    pub per_request_tail: usize,
}

impl Answer {
    /// A refusal before any operation was looked at.
    pub fn refused(outcome: Outcome, code: &str, message: &str, media: Media) -> Self {
        let body = encode::encode(&[coded_response(code, message)], false, media, usize::MAX)
            .map(|(_, body)| body)
            .unwrap_or_default();
        Self::without_execution(outcome, media, body)
    }

    /// `body`, for a request that never reached execution (or whose execution it did not wait for).
    fn without_execution(outcome: Outcome, media: Media, body: Vec<u8>) -> Self {
        Self {
            outcome,
            media,
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

/// Who asked and how, as the stages after preparation need it.
struct Asked<'a> {
    batch: bool,
    media: Media,
    request_id: &'a str,
    client_ip: &'a str,
    /// How long shared HTTP caches may keep an answer without errors (an anonymous persisted query by
    /// `GET`); `None`: never.
    max_age: Option<Duration>,
}

impl Asked<'_> {
    fn requester(&self, viewer: Option<crate::domain::UserId>) -> observe::Requester<'_> {
        observe::Requester {
            request_id: self.request_id,
            client_ip: self.client_ip,
            viewer,
        }
    }
}

impl Pipeline {
    pub fn new(
        schema: BoardSchema,
        services: Services,
        persisted: Persisted,
        settings: Settings,
    ) -> Self {
        let output_types = OutputTypes::from_sdl(&schema.sdl());
        let answers = services
            .board
            .near_cache()
            .map(|near| response_cache::ResponseCache::new(Arc::clone(&near), near.ttl()));
        Self {
            answers,
            schema,
            services,
            limits: settings.limits,
            request_timeout: settings.request_timeout,
            max_response_bytes: settings.max_response_bytes,
            persisted_get_max_age: settings.persisted_get_max_age,
            persisted,
            output_types,
            documents: Documents::new(),
        }
    }

    /// Checks one operation text against the limits every operation passes (tokens and nesting before
    /// parsing, then expanded fields, aliases, field depth and introspection depth) and answers its parsed
    /// document. Refusals: `QUERY_TOO_COMPLEX` for a limit, `BAD_USER_INPUT` for a text that does not parse.
    /// Documents that pass are remembered, so a text is checked once.
    pub fn check_operation(&self, query: &str) -> Result<Arc<ExecutableDocument>, Refusal> {
        prepare::check_cached(query, &self.limits, &self.documents)
    }

    /// The user an `Authorization` value names (`"Bearer <accessToken>"`, as in an HTTP header or a
    /// graphql-ws `connection_init` payload); `None` → anonymous. A value that does not verify, another
    /// scheme, or a user who may no longer act (blocked, resigned, deleted) is refused `UNAUTHENTICATED`
    /// with the same messages as over HTTP — never served as anonymous.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Option<User>, AppError> {
        let credentials = Authorization::from_value(authorization);
        let Some(user_id) = auth::verify(&self.services.accounts, &credentials)? else {
            return Ok(None);
        };
        let mut found = self.services.accounts.users_by_ids(&[user_id]).await?;
        auth::admit(found.remove(&user_id)).map(Some)
    }

    /// A request's state beginning now, with the deadline of the request timeout, in the trace `trace` it
    /// came with (if any): the transport hands it to [`Pipeline::answer`].
    pub fn begin_request(&self, trace: Option<u128>) -> Arc<RequestState> {
        RequestState::continuing(trace, self.request_timeout)
    }

    /// Runs what a transport received and answers it. [`Pipeline::answer`] has entered `request` around
    /// this call (once, for the whole request). Sets `writing`, before anything runs, if an operation is
    /// not a query.
    async fn execute(
        &self,
        operations: Operations,
        request: &Arc<RequestState>,
        writing: &AtomicBool,
    ) -> Answer {
        let Operations {
            requests,
            batch,
            queries_only,
            authorization,
            request_id,
            client_ip,
            media,
        } = operations;
        let anonymous = authorization == Authorization::Absent;
        // Who the answer is for, as far as the token alone tells (`None`: it may not be kept).
        let kept_for = kept::viewer(&self.services.accounts, &authorization);
        let keys = self.kept_keys(&requests, batch, kept_for, media);
        let (mut runnable, prepared) = self.prepare_all(requests).await;
        request.traced_as(observe::span(&request_id, &prepared));
        if queries_only
            && prepared
                .iter()
                .any(|p| matches!(p.ty, "mutation" | "subscription"))
        {
            return Answer::refused(
                Outcome::NotAQuery,
                "BAD_USER_INPUT",
                "mutations must be sent with POST",
                media,
            );
        }
        let shareable = queries_only
            && !batch
            && anonymous
            && !self.persisted_get_max_age.is_zero()
            && matches!(prepared.as_slice(), [p] if p.source == persisted::Source::Stored && p.ty == "query" && p.refusal.is_none());
        let asked = Asked {
            batch,
            media,
            request_id: &request_id,
            client_ip: &client_ip,
            max_age: shareable.then_some(self.persisted_get_max_age),
        };
        let ledger = CostLedger::new(Arc::clone(&self.services.limiter), &client_ip);
        let ticket = match self.look_up_kept(keys, &prepared, kept_for.flatten()).await {
            Ok(kept) => {
                let viewer = kept_for.flatten();
                ledger.identify(viewer);
                return self
                    .answer_kept(&kept, &asked, &prepared, request, viewer, &ledger)
                    .await;
            }
            Err(ticket) => ticket,
        };
        prepare::hand_documents(&mut runnable, &prepared);
        let writes = prepared
            .iter()
            .any(prepare::Prepared::runs_other_than_a_query);
        writing.store(writes, Ordering::Release);
        let run = run::Run {
            pipeline: self,
            ledger: &ledger,
            scope: request,
            credentials: &authorization,
            request_id: &request_id,
            client_ip: &client_ip,
            writes,
            record_viewer: ticket
                .as_ref()
                .is_some_and(response_cache::MissTicket::records_viewer),
        };
        // Boxed: the engine's future is most of this one's size, and a kept answer never creates it, so the
        // transport moves a small future for every request instead.
        let executed = Box::pin(run::execute(run, runnable)).await;
        let viewer = executed.viewer;
        let mut responses = self.complete(&prepared, executed.responses, &request_id);
        let (_, points) = ledger.latest().await;
        report_cost(&mut responses, points.remaining());
        let (outcome, body, responses) = self.encode(responses, &prepared, &asked);
        let clean = outcome == Outcome::Answered && responses.iter().all(|r| r.errors.is_empty());
        let cost = responses.first().and_then(points::cost_of);
        if let (Some(ticket), Some((requested, remaining))) = (ticket, cost)
            && clean
            && request.db_outside_fills() == 0
            && !ledger.in_data()
            && let Some(kept) = points::without_cost(&body, requested, remaining)
        {
            // Everything came from cache entries (or was read to fill them), which every write that
            // changes them deletes: the answer may be kept (without this request's cost numbers).
            self.keep(ticket, kept, requested, executed.slots.as_deref());
        }
        let per_request_tail = match (batch, cost) {
            (false, Some((requested, remaining))) if clean => {
                points::tail_len(requested, remaining)
            }
            _ => 0,
        };
        let requester = asked.requester(viewer);
        observe::record(
            &requester,
            &prepared,
            &responses,
            request.started().elapsed(),
            request,
        );
        Answer {
            outcome,
            media,
            body,
            round_trips: Some((request.db(), request.cache())),
            max_age: asked.max_age.filter(|_| clean),
            kept: false,
            budget: Some(Budget::of(&points)),
            retry_after: rate_limited_after(outcome, &responses),
            per_request_tail,
        }
    }

    /// Partial results: one response per request in order, refusals in place, each completed (codes,
    /// masked internal errors, spec partial results).
    fn complete(
        &self,
        prepared: &[prepare::Prepared],
        executed: Vec<async_graphql::Response>,
        request_id: &str,
    ) -> Vec<async_graphql::Response> {
        let mut executed = executed.into_iter();
        prepared
            .iter()
            .map(|p| {
                let response = match &p.refusal {
                    Some(refusal) => refusal.response(),
                    None => executed.next().unwrap_or_else(|| {
                        error_response(
                            &AppError::Internal("a batch answered fewer responses".into()),
                            request_id,
                        )
                    }),
                };
                let mut response = finish_response(response, request_id);
                if let Some(document) = &p.document {
                    crate::graphql::variable_errors::one_error_per_bad_variable(
                        &mut response,
                        document,
                        p.name.as_deref(),
                    );
                    self.output_types
                        .complete(&mut response, document, p.name.as_deref());
                }
                response
            })
            .collect()
    }

    /// The body under the response cap, and the request's outcome. Serialised into a buffer that refuses
    /// to grow past the cap: a small request whose answer would be hundreds of megabytes is answered with
    /// an error instead (every element of a batch).
    fn encode(
        &self,
        mut responses: Vec<async_graphql::Response>,
        prepared: &[prepare::Prepared],
        asked: &Asked<'_>,
    ) -> (Outcome, Vec<u8>, Vec<async_graphql::Response>) {
        let cap = self.max_response_bytes;
        let (outcome, body) = match encode::encode(&responses, asked.batch, asked.media, cap) {
            Some(encoded) => encoded,
            None => {
                tracing::warn!(request_id = %asked.request_id, max_response_bytes = cap, "response too large");
                let message = crate::graphql::budget::too_large_message(cap);
                for response in &mut responses {
                    *response = coded_response("QUERY_TOO_COMPLEX", &message);
                }
                encode::encode(&responses, asked.batch, asked.media, usize::MAX).unwrap_or_default()
            }
        };
        let outcome = match prepared {
            [only] if !asked.batch && only.refusal.as_ref().is_some_and(|r| r.malformed) => {
                Outcome::RequestError(ErrorClass::BadRequest)
            }
            _ => outcome,
        };
        (outcome, body, responses)
    }

    /// Resolves persisted operations and prepares every request; registers the new persisted texts that
    /// passed. Answers the requests to run and what each request became, in order.
    async fn prepare_all(&self, requests: Vec<Incoming>) -> (Vec<Request>, Vec<prepare::Prepared>) {
        let mut runnable: Vec<Request> = Vec::with_capacity(requests.len());
        let mut prepared = Vec::with_capacity(requests.len());
        for Incoming {
            mut request,
            document_id,
            refusal,
        } in requests
        {
            if let Some(refusal) = refusal {
                let refusal = Refusal {
                    malformed: true,
                    ..refusal
                };
                prepared.push(prepare::Prepared::refused(&request, refusal));
                continue;
            }
            let p = match self
                .persisted
                .resolve(&mut request, document_id.as_deref())
                .await
            {
                Err(refusal) => prepare::Prepared::refused(&request, refusal),
                Ok(source) => {
                    let p = prepare::prepare(&request, source, &self.limits, &self.documents);
                    if let persisted::Source::Register(hash) = &p.source
                        && p.refusal.is_none()
                        && p.document.is_some()
                    {
                        self.persisted.store.put(hash, &request.query).await;
                    }
                    p
                }
            };
            if p.refusal.is_none() {
                runnable.push(request);
            }
            prepared.push(p);
        }
        (runnable, prepared)
    }
}

/// `retryAfterSeconds` of a request error that is `RATE_LIMITED` (the transport's `Retry-After`).
fn rate_limited_after(outcome: Outcome, responses: &[async_graphql::Response]) -> Option<u64> {
    match outcome {
        Outcome::RequestError(ErrorClass::RateLimited) => {
            responses.first().and_then(points::retry_after)
        }
        _ => None,
    }
}
