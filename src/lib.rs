//! `board`: a GraphQL discussion-board server. MariaDB + Redis in production, SQLite + an in-process cache
//! embedded. See `ARCHITECTURE` in the README for the layout.

pub mod adapters;
pub mod config;
pub mod domain;
pub mod ports;
pub mod telemetry;
pub mod app;
pub mod graphql;
