//! The pure core: entities, value objects, rules and typed errors. No I/O crates here.

pub mod errors;
pub mod ids;
pub mod page;
pub mod user;
pub mod validation;

pub use errors::{AppError, AppResult};
pub use ids::UserId;
pub use user::{LoginEvent, Role, User, UserState, UserStateKind};
