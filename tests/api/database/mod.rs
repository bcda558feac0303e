//! The database schema: migrations on both dialects, and the demo data of `board seed`.

mod migrations;
mod seed;
