//! `board`: a GraphQL discussion-board server. MariaDB + Redis in production, SQLite + an in-process cache
//! embedded. [`App::build`] (in [`startup`]) wires adapters to ports from a [`config::Config`]; [`App::serve`]
//! runs the HTTP server.

pub mod adapters;
pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod graphql;
pub mod http;
pub mod ports;
pub mod request;
pub mod startup;
pub mod telemetry;

pub use startup::{App, StartError, shutdown_signal};
