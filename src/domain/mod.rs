//! The pure core: entities, value objects, rules and typed errors. No I/O crates here.

pub mod bans;
pub mod board;
pub mod errors;
pub mod events;
pub mod ids;
pub mod inputs;
pub mod markdown;
pub mod moderation;
pub mod names;
pub mod notifications;
pub mod page;
pub mod reports;
pub mod search;
pub mod threads;
pub mod user;
pub mod validation;

pub use board::{Category, CategoryTree, Comment, Post, PostFilter, PostKey, PostOrder, Revision};
pub use errors::{AppError, AppResult};
pub use events::{BoardEvent, EventIds, EventKind, TraceParent};
pub use ids::{CategoryId, CommentId, ModActionId, NotificationId, PostId, ReportId, UserId};
pub use inputs::{
    CategoryName, CommentContent, Email, NewPassword, PostContent, PostTitle, UserName,
};
pub use moderation::{Access, ModAction, ModActionKind, ModTarget, NewModAction, Removal};
pub use user::{LoginEvent, Role, User, UserState, UserStateKind};
