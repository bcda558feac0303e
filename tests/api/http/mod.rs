//! The HTTP edge: request rules, headers for browsers, connection limits, graceful drain.

mod browsers;
mod connections;
mod drain;
mod edge;
