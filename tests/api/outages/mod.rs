//! Outages of the backing services: a cut database connection, a slow Redis, a Redis restart, a Redis that
//! refuses the limiter's commands.

mod deletions;
mod limiter_refusals;
mod network_faults;
mod redis_restart;
