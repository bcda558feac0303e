//! Top-level mutation fields run one after another, and each one's payload must show the state after it:
//! a document that votes and then takes the vote back answers `viewerHasVoted: false` in its second
//! payload. The request's loaders remember what they loaded, so before each top-level mutation field
//! [`FreshAfterWrites`] makes them forget it (reads go through the caches again, which the previous
//! field's write already invalidated).

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ServerResult, Value};

use crate::graphql::context::RequestContext;

/// Registers [`FreshAfterWrites`] on a schema.
pub struct FreshAfterWrites;

impl ExtensionFactory for FreshAfterWrites {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Forget)
    }
}

struct Forget;

#[async_trait::async_trait]
impl Extension for Forget {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.parent_type == "Mutation"
            && info.path_node.parent.is_none()
            && let Some(request) = ctx.data_opt::<Arc<RequestContext>>()
        {
            request.loaders.forget_all();
        }
        next.run(ctx, info).await
    }
}
