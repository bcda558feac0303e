//! The one GraphQL schema: types, resolvers, per-request loaders and the error mapping at the edge.
//! Resolvers never touch SQL or the cache directly: they call app services or the request's DataLoaders.

pub mod batches;
pub mod budget;
pub mod context;
pub mod cost;
pub mod errors;
mod extension;
pub mod ids;
pub mod limits;
pub mod loaders;
mod mutation;
pub mod partial;
pub mod pipeline;
mod query;
pub mod subscription;
pub mod types;
pub mod variable_errors;
pub mod viewer_reads;

use std::sync::Arc;

use async_graphql::Schema;

use crate::app::{AccountService, BoardService, TrustService};
pub use context::{RequestContext, Requester};
pub use mutation::Mutation;
pub use query::Query;
pub use subscription::Subscription;

pub type BoardSchema = Schema<Query, Mutation, Subscription>;

/// Operation limits applied before anything is resolved.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_directives: usize,
    pub introspection: bool,
}

impl Limits {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            max_depth: config.graphql.max_depth,
            max_complexity: config.graphql.max_complexity,
            max_directives: config.graphql.max_directives,
            introspection: config.graphql.introspection,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_complexity: 10_000,
            max_directives: 5,
            introspection: true,
        }
    }
}

/// The application services resolvers reach through the schema's data.
#[derive(Clone)]
pub struct Services {
    pub accounts: Arc<AccountService>,
    pub board: Arc<BoardService>,
    /// Category bans and the report queue.
    pub trust: Arc<TrustService>,
    /// Notifications.
    pub inbox: Arc<crate::app::InboxService>,
    /// The limits counted in the shared counters; operations spend their cost from its points budget.
    pub limiter: Arc<crate::app::rate_limit::Limiter>,
}

/// The schema's types, descriptions and document limits, without the extensions that run operations.
/// The engine's depth limit is a backstop only: the HTTP edge measures the depth of schema fields itself
/// ([`limits::depth`]), because the engine counts introspection fields too and would refuse the standard
/// introspection queries at the default `max_depth`. A selection cannot nest deeper than its brackets.
fn builder(limits: &Limits) -> async_graphql::SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query, Mutation::default(), Subscription)
        .limit_depth(limits.max_depth.max(limits::MAX_NESTING))
        .limit_recursive_depth(64)
        .limit_directives(limits.max_directives)
        .override_output_type_description::<types::post::PostConnection>(
            "A page of posts (a Relay connection).",
        )
        .override_output_type_description::<types::comment::CommentConnection>(
            "A page of comments (a Relay connection).",
        )
        .override_output_type_description::<types::report::ReportConnection>(
            "A page of the report queue (a Relay connection), oldest first.",
        )
        .override_output_type_description::<types::ban::CategoryBanConnection>(
            "A page of a category's bans in force (a Relay connection), newest first.",
        )
        .override_output_type_description::<types::moderation::ModActionConnection>(
            "A page of the moderation log (a Relay connection), newest first.",
        )
        .override_output_type_description::<types::notification::NotificationConnection>(
            "A page of the viewer's notifications (a Relay connection), newest first.",
        )
        .override_output_type_description::<types::user::LoginHistoryConnection>(
            "A page of a user's logins (a Relay connection), newest first.",
        )
}

/// The schema the server runs. What an operation costs, and `max_complexity`, are the cost extension's
/// (the engine's own complexity is not used: it cannot size the lists inside a connection).
pub fn build_schema(services: Option<Services>, limits: &Limits) -> BoardSchema {
    let mut builder =
        builder(limits).extension(extension::BoardExtension::new(limits.max_complexity));
    if !limits.introspection {
        // "Did you mean …?" would disclose the schema that introspection hides.
        builder = builder.disable_introspection().disable_suggestions();
    }
    if let Some(services) = services {
        builder = builder.data(services);
    }
    builder.finish()
}

/// The SDL clients generate code from (`schema.graphql`); the cost of operations is read from it.
pub fn sdl() -> String {
    sdl_of(&builder(&Limits::default()).finish())
}

/// The SDL of `schema` as introspection shows it to clients (with `@specifiedBy` on scalars, and the
/// descriptions of the cost directives' arguments, which the engine does not print).
pub fn sdl_of(schema: &BoardSchema) -> String {
    let sdl =
        schema.sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by());
    cost::directives::print_arguments(&sdl)
}
