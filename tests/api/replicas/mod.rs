//! Replicas: stateless `board serve` processes sharing one database and Redis, and reads routed to a
//! read replica.

mod processes;
mod read_routing;
