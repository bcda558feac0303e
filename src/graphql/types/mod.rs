//! GraphQL object types. Each wraps a domain value and resolves related objects through the loaders.

pub mod ban;
pub mod category;
pub mod comment;
pub mod datetime;
pub mod moderation;
pub mod node;
pub mod notification;
pub mod pagination;
pub mod post;
pub mod rate_limit;
pub mod report;
pub mod user;

pub use category::CategoryNode;
pub use comment::CommentNode;
pub use node::Node;
pub use post::PostNode;
pub use user::UserNode;

use crate::domain::AppError;
use crate::graphql::errors::AppResultExt;

/// The most revisions one `revisions` field answers (and its default).
pub const REVISIONS_MAX: i32 = 50;

/// `revisions(last:)`: 0–[`REVISIONS_MAX`], default [`REVISIONS_MAX`].
pub(crate) fn revisions_last(last: Option<i32>) -> async_graphql::Result<usize> {
    match last {
        None => Ok(REVISIONS_MAX as usize),
        Some(n) if (0..=REVISIONS_MAX).contains(&n) => Ok(n as usize),
        Some(_) => Err(AppError::invalid(
            "last",
            format!("must be 0–{REVISIONS_MAX}"),
        ))
        .gql(),
    }
}
