//! The schema's one engine extension ([`BoardExtension`]). async-graphql passes every executed field
//! through each registered extension's `resolve`, a boxed future per field and extension (about 120 k
//! instructions on a page of 20 posts, measured with callgrind), so the operation's cost (`cost.rs`:
//! computed, bounded and spent before the operation runs) and the field hooks below are one extension.
//!
//! The field hooks:
//!
//! - **Each top-level mutation's payload shows the state after its own write.** Top-level mutation
//!   fields run one after another, and a document that votes and then takes the vote back answers
//!   `viewerHasVoted: false` in its second payload. The request's loaders remember what they loaded, so
//!   before each top-level mutation field they forget it (reads go through the caches again, which the
//!   previous field's write already invalidated).
//! - **The schema has no description.** async-graphql 7.2 answers `__schema { description }` with the
//!   description of the `__Schema` *type* ("A GraphQL Schema defines the capabilities of a GraphQL
//!   server. …"), so every client that introspects — GraphiQL's documentation pane, code generators,
//!   graphql-js `buildClientSchema` — would show that text as this schema's own, and the schema a client
//!   sees would differ from `schema.graphql`, which has none. That one field answers `null`, which the
//!   spec's `__Schema.description: String` allows (the engine declares it `String!`, but nothing checks a
//!   value an extension supplies).

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest,
    NextResolve, NextValidation, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    Request, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
};

use crate::graphql::context::RequestContext;
use crate::graphql::cost::{CostMeter, OperationCost};

/// Registers the operation's cost and the field hooks on a schema.
pub struct BoardExtension {
    cost: CostMeter,
}

impl BoardExtension {
    /// Operations costing more than `max_cost` are refused `QUERY_TOO_COMPLEX`.
    pub fn new(max_cost: usize) -> Self {
        Self {
            cost: CostMeter::new(max_cost),
        }
    }
}

impl ExtensionFactory for BoardExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Hooks {
            cost: self.cost.operation(),
        })
    }
}

struct Hooks {
    cost: OperationCost,
}

#[async_trait::async_trait]
impl Extension for Hooks {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        self.cost.request(ctx, next).await
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.cost.prepare_request(ctx, request, next).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        self.cost.parse_query(ctx, query, variables, next).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        self.cost.validation(ctx, next).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        match info.parent_type {
            "Mutation" if info.path_node.parent.is_none() => {
                if let Some(request) = ctx.data_opt::<Arc<RequestContext>>() {
                    request.loaders.forget_all();
                }
            }
            "__Schema" if info.name == "description" => return Ok(Some(Value::Null)),
            _ => {}
        }
        next.run(ctx, info).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::graphql::{Limits, build_schema};

    #[tokio::test]
    async fn the_schema_has_no_description_and_the_type_keeps_its_own() {
        let schema = build_schema(None, &Limits::default());
        let response = schema
            .execute(
                "{ __schema { description queryType { name } } s: __schema { d: description } \
                 t: __type(name: \"__Schema\") { description } }",
            )
            .await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let data = response.data.into_json().unwrap();
        assert!(data["__schema"]["description"].is_null(), "{data}");
        assert_eq!(data["__schema"]["queryType"]["name"], "Query");
        assert!(data["s"]["d"].is_null(), "aliased too: {data}");
        let own = data["t"]["description"].as_str().unwrap();
        assert!(own.starts_with("A GraphQL Schema defines"), "{data}");
    }
}
