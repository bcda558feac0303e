//! GraphQL over HTTP: `POST /graphql` (JSON only, so a browser's simple cross-site request is refused),
//! `GET /graphql` (queries only).

use std::sync::Arc;
use std::time::Instant;

use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{BatchRequest, BatchResponse, Request, Response};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::IntoResponse;

use axum::Extension;
use opentelemetry::KeyValue;
use tracing::Instrument;

use super::observe::ClientIp;
use super::{AppState, REQUEST_ID, Shared};
use crate::app::{near_cache, read_route};
use crate::domain::{AppError, User};
use crate::graphql::RequestContext;
use crate::graphql::errors::{coded_response, error_response, finish_response};
use crate::telemetry::metrics;
use async_graphql::dataloader::{DataLoader, HashMapCache};

use crate::graphql::batches::{RequestBatches, drive};
use crate::graphql::limits;
use crate::graphql::loaders::{Loaders, UserLoader};
use crate::telemetry::roundtrips::{self, RoundTrips};

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

fn refuse(status: StatusCode, code: &str, message: &str, media: Media) -> axum::response::Response {
    let mut http = answer(&[coded_response(code, message)], false, media);
    *http.status_mut() = status;
    http
}

pub async fn post_graphql(
    State(state): State<Shared>,
    Extension(ClientIp(client_ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> axum::response::Response {
    let media = Media::of(&headers);
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !(content_type.starts_with("application/json")
        || content_type.starts_with(GRAPHQL_RESPONSE_JSON))
    {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "POST /graphql needs Content-Type: application/json",
            media,
        );
    }
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            &format!(
                "the request body is larger than {} bytes",
                state.max_body_bytes
            ),
            media,
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > state.max_body_bytes) {
        return too_large();
    }
    let read = axum::body::to_bytes(body, state.max_body_bytes);
    let bytes: Bytes = match tokio::time::timeout(state.body_read_timeout, read).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(err)) if is_length_limit(&err) => return too_large(),
        // The connection failed or went idle mid-body: the same answer as a body that is too slow.
        Ok(Err(_)) | Err(_) => {
            let mut slow = refuse(
                StatusCode::REQUEST_TIMEOUT,
                "BAD_USER_INPUT",
                &format!(
                    "the request body did not arrive within {} ms",
                    state.body_read_timeout.as_millis()
                ),
                media,
            );
            slow.headers_mut().insert(
                axum::http::header::CONNECTION,
                HeaderValue::from_static("close"),
            );
            return slow;
        }
    };
    let parsed = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => serde_json::from_slice::<Vec<Request>>(&bytes).map(|list| (list, true)),
        _ => serde_json::from_slice::<Request>(&bytes).map(|one| (vec![one], false)),
    };
    let (requests, batch) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            // Not JSON, or JSON that is not a GraphQL request (`query` not a string, `variables` not an
            // object, …): a bad HTTP request under either media type.
            return refuse(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                &format!("the body is not a GraphQL request: {err}"),
                media,
            );
        }
    };
    if batch && requests.is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "the batch is empty: send one request object, or an array of 1–10 of them",
            media,
        );
    }
    if requests.len() > state.max_batch {
        return refuse(
            StatusCode::BAD_REQUEST,
            "QUERY_TOO_COMPLEX",
            &format!("a batch carries 1–{} operations", state.max_batch),
            media,
        );
    }
    execute(&state, &headers, &client_ip, requests, batch, false, media).await
}

/// Queries only: a mutation over GET could be triggered by a link or an image on another site.
pub async fn get_graphql(
    State(state): State<Shared>,
    Extension(ClientIp(client_ip)): Extension<ClientIp>,
    headers: HeaderMap,
    uri: Uri,
) -> axum::response::Response {
    let media = Media::of(&headers);
    let request: Request =
        match async_graphql::http::parse_query_string(uri.query().unwrap_or_default()) {
            Ok(request) => request,
            Err(err) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "BAD_USER_INPUT",
                    &format!("bad query string: {err}"),
                    media,
                );
            }
        };
    execute(
        &state,
        &headers,
        &client_ip,
        vec![request],
        false,
        true,
        media,
    )
    .await
}

/// The user behind the `Authorization` header. A header that does not verify, or names a user who may no
/// longer act (blocked, resigned), is refused rather than served as anonymous.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    users: &DataLoader<UserLoader, HashMapCache>,
) -> Result<Option<User>, AppError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let refused = || AppError::Unauthenticated("the access token is invalid or expired".into());
    let value = value.to_str().map_err(|_| refused())?;
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(AppError::Unauthenticated(
                "use `Authorization: Bearer <accessToken>`".into(),
            ));
        }
    };
    let user_id = state.services.accounts.verify_access_token(token)?;
    match users.load_one(user_id).await? {
        Some(user) if user.may_act() => Ok(Some(user)),
        Some(user) if user.is_blocked() => {
            Err(AppError::Unauthenticated("this account is blocked".into()))
        }
        _ => Err(refused()),
    }
}

/// The name and type (`query`, `mutation`, `subscription`) of the operation a request selects; the type is
/// `unknown` when its document does not parse or names no such operation. The parsed document is kept, so
/// it is parsed once.
type Operation = (
    Option<String>,
    &'static str,
    Option<Arc<ExecutableDocument>>,
);

fn prepare(request: &mut Request, state: &AppState) -> Result<Operation, String> {
    let document = match state.documents.get(&request.query) {
        Some(known) => known,
        None => match check_and_parse(&request.query, state)? {
            Some(document) => {
                let document = Arc::new(document);
                state.documents.insert(&request.query, &document);
                document
            }
            None => return Ok((request.operation_name.clone(), "unknown", None)),
        },
    };
    let selected = document
        .operations
        .iter()
        .find(|(name, _)| match (&request.operation_name, name) {
            (Some(wanted), Some(name)) => wanted == name.as_str(),
            (None, _) => true,
            (Some(_), None) => false,
        })
        .map(|(name, op)| {
            let ty = match op.node.ty {
                OperationType::Query => "query",
                OperationType::Mutation => "mutation",
                OperationType::Subscription => "subscription",
            };
            (name.map(|n| n.to_string()), ty)
        });
    request.set_parsed_query((*document).clone());
    Ok(match selected {
        Some((name, ty)) => (request.operation_name.clone().or(name), ty, Some(document)),
        None => (request.operation_name.clone(), "unknown", Some(document)),
    })
}

/// Checks a new text against the limits (tokens and nesting before parsing it, expanded fields and
/// aliases after) and parses it. `Ok(None)`: it does not parse (the engine reports the syntax error).
fn check_and_parse(query: &str, state: &AppState) -> Result<Option<ExecutableDocument>, String> {
    let (tokens, nesting) = limits::scan(query, state.max_tokens);
    if tokens > state.max_tokens {
        return Err(format!(
            "the document has more than {} tokens",
            state.max_tokens
        ));
    }
    if nesting > limits::MAX_NESTING {
        return Err(format!(
            "the document nests deeper than {} levels",
            limits::MAX_NESTING
        ));
    }
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return Ok(None);
    };
    if limits::expanded_fields(&document) > limits::MAX_EXPANDED_FIELDS {
        return Err(format!(
            "the document selects more than {} fields once its fragments are expanded",
            limits::MAX_EXPANDED_FIELDS
        ));
    }
    let aliases = limits::count_aliases(&document);
    if aliases > state.max_aliases {
        return Err(format!(
            "the document has {aliases} aliases; at most {} are allowed",
            state.max_aliases
        ));
    }
    let depth = limits::depth(&document);
    if depth.introspection_too_deep {
        return Err(format!(
            "introspection nests `fields`, `interfaces`, `possibleTypes` or `inputFields` {} deep; \
             fewer levels are allowed",
            limits::MAX_INTROSPECTION_LISTS
        ));
    }
    if depth.fields > state.max_depth {
        return Err(format!(
            "the operation nests fields {} deep; at most {} levels are allowed",
            depth.fields, state.max_depth
        ));
    }
    Ok(Some(document))
}

fn error_codes(response: &Response) -> Vec<String> {
    response
        .errors
        .iter()
        .filter_map(
            |e| match e.extensions.as_ref().and_then(|x| x.get("code")) {
                Some(async_graphql::Value::String(code)) => Some(code.clone()),
                _ => None,
            },
        )
        .collect()
}

/// The media type of the answer, chosen by the request's `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `application/json` (or no preference): every GraphQL response answers 200.
    Json,
    /// `application/graphql-response+json`: a request error (no `data`) answers 4xx/5xx without `data`.
    GraphqlResponse,
}

pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

impl Media {
    pub fn of(headers: &HeaderMap) -> Self {
        let accept = headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        // The first of the two media types the client lists (with a weight above zero) wins; clients such as
        // Apollo send `application/graphql-response+json,application/json;q=0.9`.
        let mut best: Option<(f32, usize, Media)> = None;
        for (i, part) in accept.split(',').enumerate() {
            let mut params = part.split(';');
            let media = params
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let media = match media.as_str() {
                GRAPHQL_RESPONSE_JSON => Media::GraphqlResponse,
                "application/json" => Media::Json,
                _ => continue,
            };
            let q = params
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q <= 0.0 {
                continue;
            }
            if best.is_none_or(|(bq, _, _)| q > bq) {
                best = Some((q, i, media));
            }
        }
        best.map_or(Media::Json, |(_, _, media)| media)
    }

    fn content_type(self) -> HeaderValue {
        match self {
            Media::Json => HeaderValue::from_static("application/json"),
            Media::GraphqlResponse => HeaderValue::from_static(GRAPHQL_RESPONSE_JSON),
        }
    }
}

/// A request error: nothing was executed, so there is no `data` (field errors always carry a path).
fn is_request_error(response: &Response) -> bool {
    matches!(response.data, async_graphql::Value::Null)
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// The status of a request error answered as `application/graphql-response+json`.
fn request_error_status(response: &Response) -> StatusCode {
    match error_codes(response).first().map(String::as_str) {
        Some("UNAUTHENTICATED") => StatusCode::UNAUTHORIZED,
        Some("FORBIDDEN") => StatusCode::FORBIDDEN,
        Some("RATE_LIMITED") => StatusCode::TOO_MANY_REQUESTS,
        Some("PAYLOAD_TOO_LARGE") => StatusCode::PAYLOAD_TOO_LARGE,
        Some("SERVICE_UNAVAILABLE") => StatusCode::SERVICE_UNAVAILABLE,
        Some("INTERNAL") => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// One response as sent: under `application/graphql-response+json` a request error has no `data` key.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Sent<'a> {
    Full(&'a Response),
    NoData {
        errors: &'a [async_graphql::ServerError],
    },
}

fn sent(response: &Response, media: Media) -> Sent<'_> {
    if media == Media::GraphqlResponse && is_request_error(response) {
        Sent::NoData {
            errors: &response.errors,
        }
    } else {
        Sent::Full(response)
    }
}

/// The status and body for the responses of a request (one object, or an array of the batch's length), or
/// `None` when the body would be larger than `cap` bytes (serialisation stops there).
fn encode(
    responses: &[Response],
    batch: bool,
    media: Media,
    cap: usize,
) -> Option<(StatusCode, Vec<u8>)> {
    if batch {
        let list: Vec<Sent<'_>> = responses.iter().map(|r| sent(r, media)).collect();
        return capped_json(&list, cap).map(|body| (StatusCode::OK, body));
    }
    let response = responses.first()?;
    let status = if media == Media::GraphqlResponse && is_request_error(response) {
        request_error_status(response)
    } else {
        StatusCode::OK
    };
    capped_json(&sent(response, media), cap).map(|body| (status, body))
}

/// The HTTP answer for the responses of a request.
pub fn answer(responses: &[Response], batch: bool, media: Media) -> axum::response::Response {
    match encode(responses, batch, media, usize::MAX) {
        Some((status, bytes)) => {
            (status, [(CONTENT_TYPE, media.content_type())], bytes).into_response()
        }
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Whether reading a body failed on `max_body_bytes` (rather than on the connection).
fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// A writer that fails once more than `cap` bytes were written to it.
struct Capped {
    bytes: Vec<u8>,
    cap: usize,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.cap {
            return Err(std::io::Error::other("response cap reached"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `value` as JSON, or `None` when it is larger than `cap` bytes (serialisation stops there).
fn capped_json(value: &impl serde::Serialize, cap: usize) -> Option<Vec<u8>> {
    let mut out = Capped {
        bytes: Vec::with_capacity(1024),
        cap,
    };
    serde_json::to_writer(&mut out, value).ok()?;
    Some(out.bytes)
}

/// What one request of a (possibly one-element) batch became before execution.
struct Prepared {
    name: Option<String>,
    ty: &'static str,
    /// The parsed document (`None`: it does not parse; the engine reports that).
    document: Option<Arc<ExecutableDocument>>,
    /// A refusal before any database or cache work.
    refused: Option<Response>,
}

async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    client_ip: &str,
    requests: Vec<Request>,
    batch: bool,
    queries_only: bool,
    media: Media,
) -> axum::response::Response {
    let started = Instant::now();
    let request_id = request_id(headers);
    let trips = Arc::new(RoundTrips::default());
    let mut runnable: Vec<Request> = Vec::with_capacity(requests.len());
    let mut prepared: Vec<Prepared> = Vec::with_capacity(requests.len());
    for mut request in requests {
        match prepare(&mut request, state) {
            Ok((name, ty, document)) => {
                prepared.push(Prepared {
                    name,
                    ty,
                    document,
                    refused: None,
                });
                runnable.push(request);
            }
            Err(message) => prepared.push(Prepared {
                name: request.operation_name.clone(),
                ty: "unknown",
                document: None,
                refused: Some(coded_response("QUERY_TOO_COMPLEX", &message)),
            }),
        }
    }
    // GET runs queries only: a mutation over GET could be triggered by a link or an image on another site.
    if queries_only
        && prepared
            .iter()
            .any(|p| matches!(p.ty, "mutation" | "subscription"))
    {
        return refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_USER_INPUT",
            "mutations must be sent with POST",
            media,
        );
    }
    let runs = runnable.len();
    let batches = RequestBatches::new();
    let board = &state.services.board;
    let writes = prepared
        .iter()
        .any(|p| p.refused.is_none() && p.ty != "query");
    let route = read_route::new_route();
    let mut viewer = None;
    // Boxed once here, so the wrappers below (timeout, span, task-locals) move a pointer, not the whole
    // execution state.
    let work = Box::pin(async {
        if runnable.is_empty() {
            return Vec::new();
        }
        let users = Loaders::users(Arc::clone(&state.services.accounts), &batches);
        let actor = match authenticate(state, headers, &users).await {
            Ok(actor) => actor,
            // Every operation of the batch answers the refusal.
            Err(err) => {
                return (0..runnable.len())
                    .map(|_| error_response(&err, &request_id))
                    .collect();
            }
        };
        viewer = actor.as_ref().map(|a| a.id);
        if board.has_replica() && !writes {
            read_route::allow_replica(board.replica_allowed_for(viewer).await);
        }
        let loaders = Loaders::new(
            users,
            Arc::clone(&state.services.board),
            actor.as_ref().map(|a| a.id),
            &batches,
        );
        let context = Arc::new(RequestContext {
            actor,
            request_id: request_id.clone(),
            client_ip: client_ip.to_owned(),
            loaders,
        });
        match state
            .schema
            .execute_batch(BatchRequest::Batch(runnable).data(context))
            .await
        {
            BatchResponse::Single(r) => vec![r],
            BatchResponse::Batch(list) => list,
        }
    });
    // Every event of the request (batches, slow queries, errors) carries its id.
    let span = tracing::info_span!("request", request_id = %request_id);
    let bounded = tokio::time::timeout(
        state.request_timeout,
        drive(Arc::clone(&batches), work).instrument(span),
    );
    let executed = roundtrips::scope(
        Arc::clone(&trips),
        read_route::scope(route, near_cache::scope(started, bounded)),
    )
    .await;
    if writes && let Some(writer) = viewer {
        // Before the answer leaves: the writer's next request, on any process, reads the primary.
        roundtrips::scope(Arc::clone(&trips), board.record_write(writer)).await;
    }
    let mut executed = match executed {
        Ok(list) => list.into_iter(),
        Err(_) => {
            tracing::warn!(request_id = %request_id, timeout = ?state.request_timeout, "request timed out");
            let err = AppError::Unavailable(format!(
                "the request took longer than {} ms and was stopped; retry later",
                state.request_timeout.as_millis()
            ));
            (0..runs)
                .map(|_| error_response(&err, &request_id))
                .collect::<Vec<_>>()
                .into_iter()
        }
    };
    let mut responses: Vec<Response> = prepared
        .iter_mut()
        .map(|p| {
            let response = match p.refused.take() {
                Some(refused) => refused,
                None => executed.next().unwrap_or_else(|| {
                    error_response(
                        &AppError::Internal("a batch answered fewer responses".into()),
                        &request_id,
                    )
                }),
            };
            let mut response = finish_response(response, &request_id);
            if let Some(document) = &p.document {
                state
                    .shapes
                    .complete(&mut response, document, p.name.as_deref());
            }
            response
        })
        .collect();
    // Serialised here, into a buffer that refuses to grow past the cap: a small request whose answer would be
    // hundreds of megabytes is answered with an error instead (every element of a batch).
    let encoded = match encode(&responses, batch, media, state.max_response_bytes) {
        Some(encoded) => encoded,
        None => {
            tracing::warn!(request_id = %request_id, max_response_bytes = state.max_response_bytes, "response too large");
            let message = format!(
                "the response would be larger than {} bytes; ask for fewer objects or fields",
                state.max_response_bytes
            );
            for response in &mut responses {
                *response = coded_response("QUERY_TOO_COMPLEX", &message);
            }
            encode(&responses, batch, media, usize::MAX).unwrap_or_default()
        }
    };
    let elapsed = started.elapsed();
    let user = viewer.map_or_else(|| "anonymous".to_owned(), |id| id.to_string());
    let metrics = metrics::metrics();
    if let Some(m) = metrics {
        m.db_round_trips.record(trips.db(), &[]);
    }
    for (p, response) in prepared.iter().zip(&responses) {
        let codes = error_codes(response);
        let outcome = codes.first().cloned().unwrap_or_else(|| "ok".to_owned());
        if let Some(m) = metrics {
            let labels = [
                KeyValue::new(
                    "graphql.operation.name",
                    m.operation_label(p.name.as_deref(), codes.is_empty()),
                ),
                KeyValue::new("graphql.operation.type", p.ty),
                KeyValue::new("outcome", outcome.clone()),
            ];
            m.graphql_duration.record(elapsed.as_secs_f64(), &labels);
            m.graphql_operations.add(1, &labels);
        }
        tracing::info!(
            target: "board::api",
            request_id = %request_id,
            operation_name = p.name.as_deref().unwrap_or("anonymous"),
            operation_type = p.ty,
            user = %user,
            client_ip = %client_ip,
            duration_ms = elapsed.as_micros() as f64 / 1000.0,
            db_round_trips = trips.db(),
            cache_round_trips = trips.cache(),
            outcome = %outcome,
            errors = %codes.join(","),
            "graphql operation"
        );
    }
    let (status, body) = encoded;
    let http = (status, [(CONTENT_TYPE, media.content_type())], body).into_response();
    with_round_trips(state, http, &trips)
}

/// Adds the request's round-trip counts as headers, when configured.
fn with_round_trips(
    state: &AppState,
    mut http: axum::response::Response,
    trips: &RoundTrips,
) -> axum::response::Response {
    if state.round_trip_headers {
        let h = http.headers_mut();
        h.insert("x-db-round-trips", HeaderValue::from(trips.db()));
        h.insert("x-cache-round-trips", HeaderValue::from(trips.cache()));
    }
    http
}
