//! What a request carries into the resolvers: who is asking, its request id, and its loaders.

use async_graphql::Context;

use super::Services;
use super::budget::TextBudget;
use super::errors::GqlResult;
use super::loaders::Loaders;
use crate::domain::{AppError, User};

/// Per request. `actor` is set only after the access token verified and the user may still act.
pub struct RequestContext {
    pub actor: Option<User>,
    pub request_id: String,
    /// The client's address (see `client_ip_header`), for per-client limits.
    pub client_ip: String,
    pub loaders: Loaders,
    /// The long strings of the answer, counted against the response cap while they are resolved.
    pub budget: TextBudget,
}

pub trait ContextExt {
    fn request(&self) -> GqlResult<&RequestContext>;
    fn services(&self) -> GqlResult<&Services>;
    /// The signed-in user, or `UNAUTHENTICATED`.
    fn actor(&self) -> GqlResult<&User>;
    fn loaders(&self) -> GqlResult<&Loaders> {
        Ok(&self.request()?.loaders)
    }
}

impl ContextExt for Context<'_> {
    fn request(&self) -> GqlResult<&RequestContext> {
        self.data::<std::sync::Arc<RequestContext>>()
            .map(|c| c.as_ref())
            .map_err(|_| super::errors::to_gql(&AppError::internal("request context missing")))
    }

    fn services(&self) -> GqlResult<&Services> {
        self.data::<Services>()
            .map_err(|_| super::errors::to_gql(&AppError::internal("services missing")))
    }

    fn actor(&self) -> GqlResult<&User> {
        self.request()?.actor.as_ref().ok_or_else(|| {
            super::errors::to_gql(&AppError::Unauthenticated("sign in first".into()))
        })
    }
}
