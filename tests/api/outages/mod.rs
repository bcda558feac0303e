//! Outages of the backing services: a cut database connection, a slow Redis, a Redis restart.

mod network_faults;
mod redis_restart;
