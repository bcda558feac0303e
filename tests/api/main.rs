//! The black-box tests, in one binary: a real server on a random port per scenario (SQLite by default, the
//! `#[ignore]`d variants on MariaDB + Redis), grouped by feature. Helpers live in `helpers/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod helpers;

mod accounts;
mod board;
mod cache;
mod database;
mod deployment;
mod graphql;
mod http;
mod limits;
mod moderation;
mod notifications;
mod observability;
mod outages;
mod persisted;
mod replicas;
mod search;
mod subscriptions;
