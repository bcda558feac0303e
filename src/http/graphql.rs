//! GraphQL over HTTP: `POST /graphql` (JSON only, so a browser's simple cross-site request is refused),
//! `GET /graphql` (queries only). This module adapts the transport only: it reads and bounds the body,
//! turns JSON or the query string into requests, picks the media type, and hands them to the request
//! pipeline ([`crate::graphql::pipeline`]), whose answer it sends.

use async_graphql::Request;
use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{ACCEPT, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::IntoResponse;

use super::observe::ClientIp;
use super::{REQUEST_ID, Shared};
use crate::graphql::pipeline::{Answer, Authorization, GRAPHQL_RESPONSE_JSON, Media, Operations};

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

fn media_of(headers: &HeaderMap) -> Media {
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
fn respond(answer: Answer, round_trip_headers: bool) -> axum::response::Response {
    let mut http = (
        answer.status,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static(answer.media.content_type()),
        )],
        answer.body,
    )
        .into_response();
    if round_trip_headers && let Some((db, cache)) = answer.round_trips {
        let h = http.headers_mut();
        h.insert("x-db-round-trips", HeaderValue::from(db));
        h.insert("x-cache-round-trips", HeaderValue::from(cache));
    }
    http
}

fn refuse(status: StatusCode, code: &str, message: &str, media: Media) -> axum::response::Response {
    respond(Answer::refused(status, code, message, media), false)
}

pub async fn post_graphql(
    State(state): State<Shared>,
    Extension(ClientIp(client_ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Body,
) -> axum::response::Response {
    let media = media_of(&headers);
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
            slow.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
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
    let operations = Operations {
        requests,
        batch,
        queries_only: false,
        authorization: authorization_of(&headers),
        request_id: request_id(&headers),
        client_ip,
        media,
    };
    respond(
        state.pipeline.execute(operations).await,
        state.round_trip_headers,
    )
}

/// Queries only: a mutation over GET could be triggered by a link or an image on another site.
pub async fn get_graphql(
    State(state): State<Shared>,
    Extension(ClientIp(client_ip)): Extension<ClientIp>,
    headers: HeaderMap,
    uri: Uri,
) -> axum::response::Response {
    let media = media_of(&headers);
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
    let operations = Operations {
        requests: vec![request],
        batch: false,
        queries_only: true,
        authorization: authorization_of(&headers),
        request_id: request_id(&headers),
        client_ip,
        media,
    };
    respond(
        state.pipeline.execute(operations).await,
        state.round_trip_headers,
    )
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
