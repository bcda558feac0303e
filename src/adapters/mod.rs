//! Outbound adapters: real infrastructure behind the ports.

pub mod auth;
pub mod cache;
pub mod events;
pub mod redis_feed;
pub mod sql;
