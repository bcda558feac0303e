//! The HTTP edge: request rules, headers for browsers, connection limits, graceful drain, GraphiQL's assets.

mod abandoned;
mod browsers;
mod connections;
mod drain;
mod edge;
mod graphiql;
