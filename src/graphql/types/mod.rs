//! GraphQL object types. Each wraps a domain value and resolves related objects through the loaders.

pub mod node;
pub mod pagination;
pub mod user;

pub use node::Node;
pub use user::UserNode;
