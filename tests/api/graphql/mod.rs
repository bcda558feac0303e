//! GraphQL as clients see it: what standard clients rely on, the schema file, the pipeline entry points,
//! and hostile input.

mod consumers;
mod fuzz;
mod pipeline;
mod schema_file;
