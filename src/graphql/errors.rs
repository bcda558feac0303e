//! The one mapping from use-case errors to GraphQL errors with `extensions.code`, and the clean-up of
//! errors raised by the GraphQL engine itself (parse, validation, limits).

use async_graphql::{ErrorExtensions, Response, ServerError};

use crate::domain::AppError;

pub type GqlResult<T> = async_graphql::Result<T>;

pub fn to_gql(err: &AppError) -> async_graphql::Error {
    let message = match err {
        AppError::InvalidInput { message, .. } => message.clone(),
        other => other.to_string(),
    };
    async_graphql::Error::new(message).extend_with(|_, ext| {
        ext.set("code", err.code());
        match err {
            AppError::InvalidInput { field, .. } => ext.set("field", field.as_str()),
            AppError::Conflict {
                field: Some(field), ..
            } => ext.set("field", field.as_str()),
            AppError::RateLimited {
                retry_after_seconds,
            } => ext.set("retryAfterSeconds", *retry_after_seconds),
            AppError::Locked {
                reason: Some(reason),
            } => ext.set("reason", reason.as_str()),
            // A dependency is down or a write lost a race it could not win in its retries: soon.
            AppError::Unavailable(_) => ext.set("retryAfterSeconds", 1),
            _ => {}
        }
    })
}

/// `.gql()` on use-case results, so resolvers can use `?` without losing the code.
pub trait AppResultExt<T> {
    fn gql(self) -> GqlResult<T>;
}

impl<T> AppResultExt<T> for Result<T, AppError> {
    fn gql(self) -> GqlResult<T> {
        self.map_err(|e| to_gql(&e))
    }
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        to_gql(self)
    }
}

fn code_of(err: &ServerError) -> Option<String> {
    let value = err.extensions.as_ref()?.get("code")?;
    match value {
        async_graphql::Value::String(s) => Some(s.clone()),
        async_graphql::Value::Enum(e) => Some(e.to_string()),
        _ => None,
    }
}

/// Gives every error a code and masks internal ones. Internal details are logged with the request id.
pub fn finish_response(mut response: Response, request_id: &str) -> Response {
    for err in &mut response.errors {
        // Errors raised outside the document (authentication, limits) have no place in it: no locations
        // rather than line 0 (locations are 1-based).
        err.locations.retain(|pos| pos.line > 0 && pos.column > 0);
        match code_of(err).as_deref() {
            Some("INTERNAL") => {
                tracing::error!(request_id, error = %err.message, path = ?err.path, "internal error");
                err.message = format!("internal error (request id {request_id})");
            }
            Some(_) => {}
            None => {
                let code = engine_error_code(&err.message);
                let extensions = err.extensions.get_or_insert_with(Default::default);
                extensions.set("code", code);
            }
        }
    }
    response
}

/// Errors without a code come from the engine: limits, or a document that does not fit the schema.
fn engine_error_code(message: &str) -> &'static str {
    let lower = message.to_ascii_lowercase();
    if lower.contains("too complex")
        || lower.contains("nested too deep")
        || lower.contains("too many")
        || lower.contains("cannot be greater than")
    {
        "QUERY_TOO_COMPLEX"
    } else {
        "BAD_USER_INPUT"
    }
}

/// A response holding a single error, for failures before execution (auth, limits, bad JSON).
pub fn error_response(err: &AppError, request_id: &str) -> Response {
    let gql = to_gql(err);
    finish_response(
        Response::from_errors(vec![gql.into_server_error(Default::default())]),
        request_id,
    )
}

/// A response holding a single engine-level error with an explicit code.
pub fn coded_response(code: &str, message: &str) -> Response {
    let mut err = ServerError::new(message, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code);
    err.extensions = Some(ext);
    Response::from_errors(vec![err])
}
