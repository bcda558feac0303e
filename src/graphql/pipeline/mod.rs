//! The request pipeline: everything a GraphQL request goes through between its transport and its answer.
//!
//! A transport (HTTP today, WebSocket next) turns what it received into [`Operations`] and calls
//! [`Pipeline::execute`], which
//! 1. resolves persisted operations ([`persisted`]: a hash or `documentId` to its text; trusted documents),
//!    then prepares each operation ([`prepare`]): limits checked before parsing and after, the parse cache;
//!    a new persisted text is registered once it passed them;
//! 2. runs the operations that passed ([`run`]): authentication, loaders, one engine batch inside the
//!    request's [`RequestState`], bounded by the request timeout;
//! 3. completes each response (codes, masked internal errors, spec partial results);
//! 4. encodes the answer under the response cap ([`encode`]);
//! 5. records metrics and the log line ([`observe`]).
//!
//! [`Pipeline::check_operation`] and [`Pipeline::authenticate`] are the same checks for transports that
//! drive execution themselves (subscriptions).

mod auth;
mod documents;
mod encode;
mod observe;
mod persisted;
mod prepare;
mod response_cache;
mod run;

use std::sync::Arc;
use std::time::Duration;

use async_graphql::Request;
use async_graphql::parser::types::ExecutableDocument;
use axum::http::StatusCode;

pub use auth::{Authorization, bearer_token};
pub use documents::Documents;
pub use encode::{GRAPHQL_RESPONSE_JSON, Media};
pub use persisted::{NOT_ALLOWED, NOT_FOUND, Persisted};
pub use prepare::TextLimits;

use crate::domain::{AppError, User};
use crate::graphql::errors::{coded_response, error_response, finish_response};
use crate::graphql::partial::Shapes;
use crate::graphql::{BoardSchema, Services};
use crate::request::RequestState;

/// Why an operation is refused before it runs: an `extensions.code` and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
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
    shapes: Shapes,
    /// Documents parsed before, by query text.
    documents: Documents,
    /// Whole answers of anonymous queries (with the near cache only).
    answers: Option<response_cache::ResponseCache>,
}

/// One GraphQL request as received.
pub struct Incoming {
    pub request: Request,
    /// The persisted document it names instead of a `query` (`<hash>` or `sha256:<hash>`).
    pub document_id: Option<String>,
    /// Refused by the transport already (an element of a batch that is not a request, a batch too long):
    /// answered with this in its place, nothing of it runs.
    pub refused: Option<Refusal>,
}

impl From<Request> for Incoming {
    fn from(request: Request) -> Self {
        Self {
            request,
            document_id: None,
            refused: None,
        }
    }
}

impl Incoming {
    /// An element answered with `refusal` whatever it holds.
    pub fn refused(refusal: Refusal) -> Self {
        Self {
            request: Request::new(""),
            document_id: None,
            refused: Some(refusal),
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
    pub status: StatusCode,
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
}

/// The answer to a request served from a kept answer, observed (log line, metrics) like any other.
fn answered_from_kept(
    kept: &response_cache::CachedResponse,
    requester: &observe::Requester<'_>,
    prepared: &[prepare::Prepared],
    scope: &Arc<RequestState>,
    media: Media,
    max_age: Option<Duration>,
) -> Answer {
    let trips = scope;
    observe::record(
        requester,
        prepared,
        &[async_graphql::Response::new(async_graphql::Value::Null)],
        scope.started().elapsed(),
        trips,
    );
    Answer {
        status: kept.status,
        media,
        body: kept.body.clone(),
        round_trips: Some((trips.db(), trips.cache())),
        max_age,
        kept: true,
    }
}

impl Answer {
    /// A refusal before any operation was looked at (the transport's own checks: media type, body size, …).
    pub fn refused(status: StatusCode, code: &str, message: &str, media: Media) -> Self {
        let body = encode::encode(&[coded_response(code, message)], false, media, usize::MAX)
            .map(|(_, body)| body)
            .unwrap_or_default();
        Self {
            status,
            media,
            body,
            round_trips: None,
            max_age: None,
            kept: false,
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
        let shapes = Shapes::from_sdl(&schema.sdl());
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
            shapes,
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

    /// Runs what a transport received and answers it.
    pub async fn execute(&self, operations: Operations) -> Answer {
        let Operations {
            requests,
            batch,
            queries_only,
            authorization,
            request_id,
            client_ip,
            media,
        } = operations;
        let scope = RequestState::begin_within(self.request_timeout);
        // One anonymous request may be answered from the kept answers (if it turns out to be a query).
        let answer_key = match (&self.answers, requests.as_slice()) {
            (Some(_), [only])
                if !batch && authorization == Authorization::Absent && only.refused.is_none() =>
            {
                Some(response_cache::ResponseCache::key(
                    &only.request,
                    only.document_id.as_deref(),
                    u8::from(media == Media::Json),
                ))
            }
            _ => None,
        };
        let (runnable, prepared) = scope.run(self.prepare_all(requests)).await;
        if queries_only
            && prepared
                .iter()
                .any(|p| matches!(p.ty, "mutation" | "subscription"))
        {
            return Answer::refused(
                StatusCode::METHOD_NOT_ALLOWED,
                "BAD_USER_INPUT",
                "mutations must be sent with POST",
                media,
            );
        }
        let persisted_get = |status: StatusCode| {
            queries_only
                && !batch
                && status == StatusCode::OK
                && authorization == Authorization::Absent
                && !self.persisted_get_max_age.is_zero()
                && matches!(prepared.as_slice(), [p] if p.source == persisted::Source::Stored && p.ty == "query" && p.refused.is_none())
        };
        let mut miss = None;
        if let (Some(answers), Some(key), [p]) = (&self.answers, answer_key, prepared.as_slice())
            && p.refused.is_none()
            && p.ty == "query"
        {
            match scope.run(answers.lookup(key)).await {
                Ok(kept) => {
                    let requester = observe::Requester {
                        request_id: &request_id,
                        client_ip: &client_ip,
                        viewer: None,
                    };
                    let max_age = persisted_get(kept.status).then_some(self.persisted_get_max_age);
                    return answered_from_kept(
                        &kept, &requester, &prepared, &scope, media, max_age,
                    );
                }
                Err(m) => miss = m,
            }
        }
        let writes = prepared
            .iter()
            .any(|p| p.refused.is_none() && p.ty != "query");
        let (executed, viewer) = run::execute(
            run::Run {
                pipeline: self,
                scope: &scope,
                credentials: &authorization,
                request_id: &request_id,
                client_ip: &client_ip,
                writes,
            },
            runnable,
        )
        .await;
        let mut executed = executed.into_iter();
        let mut responses: Vec<async_graphql::Response> = prepared
            .iter()
            .map(|p| {
                let response = match &p.refused {
                    Some(refused) => refused.response(),
                    None => executed.next().unwrap_or_else(|| {
                        error_response(
                            &AppError::Internal("a batch answered fewer responses".into()),
                            &request_id,
                        )
                    }),
                };
                let mut response = finish_response(response, &request_id);
                if let Some(document) = &p.document {
                    self.shapes
                        .complete(&mut response, document, p.name.as_deref());
                }
                response
            })
            .collect();
        // Serialised here, into a buffer that refuses to grow past the cap: a small request whose answer
        // would be hundreds of megabytes is answered with an error instead (every element of a batch).
        let (status, body) = match encode::encode(&responses, batch, media, self.max_response_bytes)
        {
            Some(encoded) => encoded,
            None => {
                tracing::warn!(request_id = %request_id, max_response_bytes = self.max_response_bytes, "response too large");
                let message = crate::graphql::budget::too_large_message(self.max_response_bytes);
                for response in &mut responses {
                    *response = coded_response("QUERY_TOO_COMPLEX", &message);
                }
                encode::encode(&responses, batch, media, usize::MAX).unwrap_or_default()
            }
        };
        let status = match prepared.as_slice() {
            [only] if !batch => only.status.unwrap_or(status),
            _ => status,
        };
        let clean = responses.iter().all(|r| r.errors.is_empty());
        let cacheable = persisted_get(status) && clean;
        let trips = &scope;
        if let (Some(answers), Some(miss)) = (&self.answers, miss)
            && clean
            && status == StatusCode::OK
            && trips.db() == 0
        {
            // Everything came from the cache, whose values follow every write: the answer may be kept.
            answers.keep(miss, status, &body);
        }
        observe::record(
            &observe::Requester {
                request_id: &request_id,
                client_ip: &client_ip,
                viewer,
            },
            &prepared,
            &responses,
            scope.started().elapsed(),
            trips,
        );
        Answer {
            status,
            media,
            body,
            round_trips: Some((trips.db(), trips.cache())),
            max_age: cacheable.then_some(self.persisted_get_max_age),
            kept: false,
        }
    }

    /// Resolves persisted operations and prepares every request; registers the new persisted texts that
    /// passed. Answers the requests to run and what each request became, in order.
    async fn prepare_all(&self, requests: Vec<Incoming>) -> (Vec<Request>, Vec<prepare::Prepared>) {
        let mut runnable: Vec<Request> = Vec::with_capacity(requests.len());
        let mut prepared = Vec::with_capacity(requests.len());
        for Incoming {
            mut request,
            document_id,
            refused,
        } in requests
        {
            if let Some(refusal) = refused {
                prepared.push(prepare::Prepared::rejected(
                    &request,
                    (refusal, Some(StatusCode::BAD_REQUEST)),
                ));
                continue;
            }
            let p = match self
                .persisted
                .resolve(&mut request, document_id.as_deref())
                .await
            {
                Err(rejected) => prepare::Prepared::rejected(&request, rejected),
                Ok(source) => {
                    let p = prepare::prepare(&mut request, source, &self.limits, &self.documents);
                    if let persisted::Source::Register(hash) = &p.source
                        && p.refused.is_none()
                        && p.document.is_some()
                    {
                        self.persisted.store.put(hash, &request.query).await;
                    }
                    p
                }
            };
            if p.refused.is_none() {
                runnable.push(request);
            }
            prepared.push(p);
        }
        (runnable, prepared)
    }
}
