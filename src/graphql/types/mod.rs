//! GraphQL object types. Each wraps a domain value and resolves related objects through the loaders.

pub mod category;
pub mod comment;
pub mod node;
pub mod pagination;
pub mod post;
pub mod user;

pub use category::CategoryNode;
pub use comment::CommentNode;
pub use node::Node;
pub use post::PostNode;
pub use user::UserNode;
