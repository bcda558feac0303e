//! Subscriptions over graphql-ws: events, rights, bounds, the cost of one event, and delivery across
//! processes.

mod across_processes;
mod cost;
mod graphql_ws;
mod operations;
