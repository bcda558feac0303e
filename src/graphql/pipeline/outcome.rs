//! How a request ended, in the pipeline's terms: the transport says it in its own (HTTP a status code,
//! graphql-ws a message). The mapping is drawn in docs/pipeline.md.

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    /// Every operation has its GraphQL response, errors in fields included.
    #[default]
    Answered,
    /// Nothing ran: a request error (under `application/graphql-response+json`, or a request malformed
    /// whatever the media type), by the kind of its first error.
    RequestError(ErrorClass),
    /// A mutation or subscription where the transport runs queries only (HTTP `GET`).
    NotAQuery,
}

/// The class of a request error, by the `extensions.code` of its first error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Unauthenticated,
    Forbidden,
    RateLimited,
    TooLarge,
    Unavailable,
    Internal,
    /// Any other code: the request itself is wrong.
    BadRequest,
}

impl ErrorClass {
    /// The class an error code names.
    pub fn of_code(code: Option<&str>) -> Self {
        match code {
            Some("UNAUTHENTICATED") => Self::Unauthenticated,
            Some("FORBIDDEN") => Self::Forbidden,
            Some("RATE_LIMITED") => Self::RateLimited,
            Some("PAYLOAD_TOO_LARGE") => Self::TooLarge,
            Some("SERVICE_UNAVAILABLE") => Self::Unavailable,
            Some("INTERNAL") => Self::Internal,
            _ => Self::BadRequest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_error_is_classed_by_its_code_and_unknown_codes_are_bad_requests() {
        assert_eq!(
            ErrorClass::of_code(Some("UNAUTHENTICATED")),
            ErrorClass::Unauthenticated
        );
        assert_eq!(
            ErrorClass::of_code(Some("RATE_LIMITED")),
            ErrorClass::RateLimited
        );
        assert_eq!(
            ErrorClass::of_code(Some("QUERY_TOO_COMPLEX")),
            ErrorClass::BadRequest
        );
        assert_eq!(ErrorClass::of_code(None), ErrorClass::BadRequest);
    }
}
