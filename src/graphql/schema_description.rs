//! async-graphql 7.2 answers `__schema { description }` with the description of the `__Schema` *type*
//! ("A GraphQL Schema defines the capabilities of a GraphQL server. …"), so every client that introspects —
//! GraphiQL's documentation pane, code generators, graphql-js `buildClientSchema` — shows that text as this
//! schema's own description, and the schema a client sees differs from `schema.graphql`, which has none.
//! [`NoSchemaDescription`] answers that one field with `null`, which the spec's `__Schema.description: String`
//! allows (the engine declares it `String!`, but nothing checks a value an extension supplies).

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ServerResult, Value};

/// Registers [`SchemaDescriptionNull`] on a schema.
pub struct NoSchemaDescription;

impl ExtensionFactory for NoSchemaDescription {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SchemaDescriptionNull)
    }
}

struct SchemaDescriptionNull;

#[async_trait::async_trait]
impl Extension for SchemaDescriptionNull {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.parent_type == "__Schema" && info.name == "description" {
            return Ok(Some(Value::Null));
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
