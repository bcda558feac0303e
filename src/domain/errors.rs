//! Typed errors of the use cases. One mapping at the GraphQL edge turns them into `extensions.code`.

use std::fmt;

/// Every failure a use case can report. Cloneable so that a DataLoader can hand one error to many waiters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppError {
    /// No valid credentials, or credentials of a user who may no longer act.
    Unauthenticated(String),
    /// Authenticated, but not allowed to do this.
    Forbidden(String),
    /// The post is locked by a moderator: it takes no new comments (`FORBIDDEN`, with the reason).
    Locked {
        reason: Option<String>,
    },
    NotFound(String),
    /// Input that breaks a documented rule; `field` names the offending input field.
    InvalidInput {
        field: String,
        message: String,
    },
    /// A uniqueness rule would be broken (duplicate name, email, …).
    Conflict {
        field: Option<String>,
        message: String,
    },
    RateLimited {
        retry_after_seconds: u64,
    },
    /// A dependency the request cannot do without (the database) is unreachable.
    Unavailable(String),
    /// Anything else: logged in full, masked for the client.
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        Self::Conflict {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    pub fn internal(detail: impl fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    /// The stable code clients switch on (`extensions.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) | Self::Locked { .. } => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::InvalidInput { .. } => "BAD_USER_INPUT",
            Self::Conflict { .. } => "CONFLICT",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Unavailable(_) => "SERVICE_UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthenticated(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::Unavailable(m)
            | Self::Internal(m) => f.write_str(m),
            Self::InvalidInput { field, message } => write!(f, "{field}: {message}"),
            Self::Conflict { message, .. } => f.write_str(message),
            Self::Locked { reason: None } => f.write_str("the post is locked"),
            Self::Locked {
                reason: Some(reason),
            } => write!(f, "the post is locked: {reason}"),
            Self::RateLimited {
                retry_after_seconds,
            } => write!(f, "too many attempts; retry in {retry_after_seconds} s"),
        }
    }
}

impl std::error::Error for AppError {}

/// The field an input error names (tests of the rules that make them).
#[cfg(test)]
pub(crate) fn field_of(err: AppError) -> String {
    match err {
        AppError::InvalidInput { field, .. } => field,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}
