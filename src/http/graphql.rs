//! GraphQL over HTTP: `POST /graphql` (its body bounded by [`super::body`]) and `GET /graphql` (queries
//! only). Transport adaptation only: JSON or the query string into requests for the pipeline
//! ([`crate::graphql::pipeline`]), its answer into a response.

use async_graphql::Request;
use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{
    ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, RETRY_AFTER, VARY,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::IntoResponse;
use sha2::{Digest, Sha256};

use super::observe::ClientIp;
use super::serve::ConnectionSlot;
use super::{AppState, REQUEST_ID, SharedState, body};
use crate::graphql::pipeline::{
    Answer, Authorization, Budget, ErrorClass, Incoming, Media, Operations, Outcome, Refusal,
};

/// One request object of a POST body: a GraphQL request, or a persisted document's id in its place.
#[derive(serde::Deserialize)]
struct PostedRequest {
    #[serde(flatten)]
    request: Request,
    #[serde(default, rename = "documentId")]
    document_id: Option<String>,
}

impl From<PostedRequest> for Incoming {
    fn from(posted: PostedRequest) -> Self {
        Self {
            request: posted.request,
            document_id: posted.document_id,
            refusal: None,
        }
    }
}

/// Longer batches (past `max_batch`) are refused by one error object; up to this many, each element is
/// answered by its own error, so a client's batch link matches answers to operations.
const BATCH_ANSWERED_MAX: usize = 100;

/// The requests of a batch: an element that is not a GraphQL request, and every element of a batch longer
/// than `max_batch`, is refused in its place (nothing of such a batch runs).
fn batch_elements(list: Vec<serde_json::Value>, max_batch: usize) -> Vec<Incoming> {
    let too_long = list.len() > max_batch;
    list.into_iter()
        .enumerate()
        .map(|(i, element)| {
            if too_long {
                return Incoming::from_refusal(Refusal::new(
                    "QUERY_TOO_COMPLEX",
                    format!("a batch carries 1–{max_batch} operations"),
                ));
            }
            match serde_json::from_value::<PostedRequest>(element) {
                Ok(posted) => posted.into(),
                Err(err) => Incoming::from_refusal(Refusal::new(
                    "BAD_USER_INPUT",
                    format!("element {i} of the batch is not a GraphQL request: {err}"),
                )),
            }
        })
        .collect()
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

pub(super) fn media_of(headers: &HeaderMap) -> Media {
    Media::from_accept(
        headers
            .get(ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
    )
}

fn authorization_of(headers: &HeaderMap) -> Authorization {
    match headers.get(AUTHORIZATION).map(HeaderValue::to_str) {
        None => Authorization::Absent,
        Some(Ok(value)) => Authorization::Value(value.to_owned()),
        Some(Err(_)) => Authorization::Unreadable,
    }
}

/// The HTTP response for the pipeline's answer, with its round-trip counts as headers when configured.
/// Only an answer the pipeline marks cacheable may be stored by HTTP caches (with a strong `ETag` from the
/// body, so `If-None-Match` answers 304); every other answer is `no-store`.
fn respond(
    status: StatusCode,
    answer: Answer,
    round_trip_headers: bool,
    if_none_match: Option<&HeaderValue>,
) -> axum::response::Response {
    let content_type = HeaderValue::from_static(answer.media.content_type());
    let budget = answer.budget;
    let retry_after = answer
        .retry_after
        .filter(|_| status == StatusCode::TOO_MANY_REQUESTS);
    let mut http = match answer.max_age {
        Some(max_age) => {
            // Without this request's cost numbers: the same answer has the same tag for every request.
            let stable = answer.body.len().saturating_sub(answer.per_request_tail);
            let etag = format!(
                "\"{}\"",
                hex::encode(Sha256::digest(&answer.body[..stable]))
            );
            let fresh = if_none_match
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| etag_matches(v, &etag));
            let mut http = if fresh {
                StatusCode::NOT_MODIFIED.into_response()
            } else {
                (status, [(CONTENT_TYPE, content_type)], answer.body).into_response()
            };
            let h = http.headers_mut();
            if let Ok(value) =
                HeaderValue::from_str(&format!("public, max-age={}", max_age.as_secs()))
            {
                h.insert(CACHE_CONTROL, value);
            }
            if let Ok(value) = HeaderValue::from_str(&etag) {
                h.insert(ETAG, value);
            }
            // The answer depends on the media type asked for, and only anonymous requests are cached.
            h.insert(VARY, HeaderValue::from_static("Accept, Authorization"));
            http
        }
        None => {
            let mut http = (status, [(CONTENT_TYPE, content_type)], answer.body).into_response();
            http.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            http
        }
    };
    if let Some(budget) = budget {
        rate_limit_headers(http.headers_mut(), &budget);
    }
    if let Some(seconds) = retry_after {
        http.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    if round_trip_headers && let Some((db, cache)) = answer.round_trips {
        let h = http.headers_mut();
        const DB: HeaderName = HeaderName::from_static("x-db-round-trips");
        const CACHE: HeaderName = HeaderName::from_static("x-cache-round-trips");
        const KEPT: HeaderName = HeaderName::from_static("x-answer-kept");
        h.insert(DB, HeaderValue::from(db));
        h.insert(CACHE, HeaderValue::from(cache));
        if answer.kept {
            h.insert(KEPT, HeaderValue::from_static("true"));
        }
    }
    http
}

/// The points budget as draft-ietf-httpapi-ratelimit-headers says it (docs/cost.md): the policy (quota
/// and window) and what is left of it with the seconds until it is whole again.
fn rate_limit_headers(headers: &mut HeaderMap, budget: &Budget) {
    let policy = format!("\"points\";q={};w={}", budget.limit, budget.window_secs);
    let now = format!("\"points\";r={};t={}", budget.remaining, budget.reset_secs);
    const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
    const NOW: HeaderName = HeaderName::from_static("ratelimit");
    for (name, value) in [(POLICY, policy), (NOW, now)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

/// Whether an `If-None-Match` value names `etag` (weak comparison, as RFC 9110 asks for this header).
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let etag = etag.trim_start_matches("W/");
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

pub(super) fn refuse(
    status: StatusCode,
    code: &str,
    message: &str,
    media: Media,
) -> axum::response::Response {
    // The status is the transport's own; the outcome is not read.
    let answer = Answer::refused(
        Outcome::RequestError(ErrorClass::BadRequest),
        code,
        message,
        media,
    );
    respond(status, answer, false, None)
}

/// `POST /graphql`, behind the body's layers ([`super::body`]): one request object or a batch of them.
pub async fn post_graphql(
    State(state): State<SharedState>,
    Extension(ClientIp(client_ip)): Extension<ClientIp>,
    slot: Option<Extension<ConnectionSlot>>,
    headers: HeaderMap,
    body: Body,
) -> axum::response::Response {
    let bytes = match body::read(body).await {
        Ok(bytes) => bytes,
        Err(err) => return state.body_limits().refusal(&headers, &err),
    };
    match posted_requests(&bytes, state.http.max_batch) {
        Ok((requests, batch)) => {
            let slot = slot.map(|Extension(slot)| slot);
            run(&state, &headers, (client_ip, slot), requests, batch, false).await
        }
        Err(refusal) => refuse(
            StatusCode::BAD_REQUEST,
            refusal.code,
            &refusal.message,
            media_of(&headers),
        ),
    }
}

/// The requests of a POST body and whether it was a batch (a JSON array).
fn posted_requests(bytes: &[u8], max_batch: usize) -> Result<(Vec<Incoming>, bool), Refusal> {
    let parsed = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        // A batch: each element is read on its own, so one that is not a request answers in its place.
        Some(b'[') => serde_json::from_slice::<Vec<serde_json::Value>>(bytes)
            .map(|list| (batch_elements(list, max_batch), true)),
        _ => serde_json::from_slice::<PostedRequest>(bytes).map(|one| (vec![one.into()], false)),
    };
    // Not JSON, or JSON that is not a GraphQL request (`query` not a string, `variables` not an object,
    // …): a bad HTTP request under either media type.
    let (requests, batch) = parsed.map_err(|err| {
        Refusal::new(
            "BAD_USER_INPUT",
            format!("the body is not a GraphQL request: {err}"),
        )
    })?;
    if batch && requests.is_empty() {
        return Err(Refusal::new(
            "BAD_USER_INPUT",
            "the batch is empty: send one request object, or an array of 1–10 of them",
        ));
    }
    if requests.len() > BATCH_ANSWERED_MAX {
        return Err(Refusal::new(
            "QUERY_TOO_COMPLEX",
            format!("a batch carries 1–{max_batch} operations"),
        ));
    }
    Ok((requests, batch))
}

/// Hands the requests to the pipeline and its outcome back to HTTP.
/// `client`: its address, and its connection's slot, kept taken until the work ends (`Pipeline::answer`).
async fn run(
    state: &AppState,
    headers: &HeaderMap,
    client: (String, Option<ConnectionSlot>),
    requests: Vec<Incoming>,
    batch: bool,
    queries_only: bool,
) -> axum::response::Response {
    let (client_ip, slot) = client;
    let media = media_of(headers);
    let operations = Operations {
        requests,
        batch,
        queries_only,
        authorization: authorization_of(headers),
        request_id: request_id(headers),
        client_ip,
        media,
    };
    let request = state
        .pipeline
        .begin_request(crate::telemetry::traces::remote_trace_id(headers));
    let answer = state.pipeline.answer(operations, request, slot).await;
    respond(
        status_of(answer.outcome),
        answer,
        state.http.round_trip_headers,
        headers.get(IF_NONE_MATCH),
    )
}

/// The status code of the pipeline's outcome (the table in docs/pipeline.md).
fn status_of(outcome: Outcome) -> StatusCode {
    match outcome {
        Outcome::Answered => StatusCode::OK,
        Outcome::NotAQuery => StatusCode::METHOD_NOT_ALLOWED,
        Outcome::RequestError(class) => match class {
            ErrorClass::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorClass::Forbidden => StatusCode::FORBIDDEN,
            ErrorClass::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorClass::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorClass::BadRequest => StatusCode::BAD_REQUEST,
        },
    }
}

/// Queries only: a mutation over GET could be triggered by a link or an image on another site.
pub async fn get_graphql(
    State(state): State<SharedState>,
    Extension(ClientIp(client_ip)): Extension<ClientIp>,
    headers: HeaderMap,
    uri: Uri,
) -> axum::response::Response {
    let media = media_of(&headers);
    let query = uri.query().unwrap_or_default();
    let request: Request = match async_graphql::http::parse_query_string(query) {
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
    let mut request = request;
    let mut document_id = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*key {
            "documentId" if document_id.is_none() => document_id = Some(value.into_owned()),
            // async-graphql's query-string parser reads `operation_name`; GraphQL over HTTP names it
            // `operationName` (without it, a GET of a document with several operations cannot pick one).
            "operationName" if request.operation_name.is_none() && !value.is_empty() => {
                request.operation_name = Some(value.into_owned());
            }
            _ => {}
        }
    }
    let requests = vec![Incoming {
        request,
        document_id,
        refusal: None,
    }];
    // Queries only: stopped when the client goes away, nothing to hold.
    run(&state, &headers, (client_ip, None), requests, false, true).await
}

#[cfg(test)]
mod tests {
    use super::etag_matches;

    #[test]
    fn if_none_match_compares_tags_weakly_and_accepts_lists_and_star() {
        let etag = "\"abc\"";
        assert!(etag_matches("\"abc\"", etag));
        assert!(etag_matches("W/\"abc\"", etag));
        assert!(etag_matches("\"x\", \"abc\"", etag));
        assert!(etag_matches("*", etag));
        assert!(!etag_matches("\"abd\"", etag));
        assert!(!etag_matches("abc", etag));
    }
}
