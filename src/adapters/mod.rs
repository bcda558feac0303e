//! Outbound adapters: real infrastructure behind the ports.

pub mod auth;
pub mod cache;
pub mod events;
pub mod sql;
