//! Responses as sent: the media type a client asked for, the status of a request error under
//! `application/graphql-response+json`, and serialisation into a buffer that refuses to grow past the
//! response cap.

use async_graphql::Response;

use super::outcome::{ErrorClass, Outcome};

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
    /// The media type an `Accept` header value asks for.
    pub fn from_accept(accept: &str) -> Self {
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

    /// The `Content-Type` of the answer.
    pub fn content_type(self) -> &'static str {
        match self {
            Media::Json => "application/json",
            Media::GraphqlResponse => GRAPHQL_RESPONSE_JSON,
        }
    }
}

/// The `extensions.code` of each error of `response`, in order.
pub(super) fn error_codes(response: &Response) -> Vec<String> {
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

/// A request error: nothing was executed, so there is no `data` (field errors always carry a path).
fn is_request_error(response: &Response) -> bool {
    matches!(response.data, async_graphql::Value::Null)
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// One response as sent: under `application/graphql-response+json` a request error has no `data` key.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Sent<'a> {
    Full(&'a Response),
    NoData {
        errors: &'a [async_graphql::ServerError],
        #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
    },
}

fn sent(response: &Response, media: Media) -> Sent<'_> {
    if media == Media::GraphqlResponse && is_request_error(response) {
        Sent::NoData {
            errors: &response.errors,
            extensions: &response.extensions,
        }
    } else {
        Sent::Full(response)
    }
}

/// The outcome and body for the responses of a request (one object, or an array of the batch's length),
/// or `None` when the body would be larger than `cap` bytes (serialisation stops there). Only a request
/// error alone under `application/graphql-response+json` is an outcome of its own.
pub(super) fn encode(
    responses: &[Response],
    batch: bool,
    media: Media,
    cap: usize,
) -> Option<(Outcome, Vec<u8>)> {
    if batch {
        let list: Vec<Sent<'_>> = responses.iter().map(|r| sent(r, media)).collect();
        return capped_json(&list, cap).map(|body| (Outcome::Answered, body));
    }
    let response = responses.first()?;
    let outcome = if media == Media::GraphqlResponse && is_request_error(response) {
        let codes = error_codes(response);
        Outcome::RequestError(ErrorClass::of_code(codes.first().map(String::as_str)))
    } else {
        Outcome::Answered
    };
    capped_json(&sent(response, media), cap).map(|body| (outcome, body))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_media_type_follows_the_accept_weights() {
        assert_eq!(Media::from_accept(""), Media::Json);
        assert_eq!(
            Media::from_accept("application/graphql-response+json,application/json;q=0.9"),
            Media::GraphqlResponse
        );
        assert_eq!(
            Media::from_accept("application/graphql-response+json;q=0.5, application/json"),
            Media::Json
        );
        assert_eq!(
            Media::from_accept("application/graphql-response+json;q=0, text/html"),
            Media::Json
        );
    }

    #[test]
    fn a_body_past_the_cap_is_not_encoded() {
        let response = Response::new(async_graphql::Value::String("x".repeat(100)));
        assert!(encode(std::slice::from_ref(&response), false, Media::Json, 50).is_none());
        let (outcome, body) = encode(&[response], true, Media::Json, 1000).unwrap();
        assert_eq!(outcome, Outcome::Answered);
        assert!(body.starts_with(b"[{"));
    }
}
