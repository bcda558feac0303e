//! What a request carries into the resolvers: who is asking, its request id, and its loaders, built by one
//! function for queries, mutations and subscriptions alike. docs/request-context.md.

use std::sync::Arc;

use async_graphql::Context;

use super::Services;
use super::batches::RequestBatches;
use super::budget::TextBudget;
use super::errors::GqlResult;
use super::loaders::{Loaders, UsersLoader};
use crate::domain::{AppError, User};
use crate::request::RequestState;

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

/// Who is asking, as the transport knows them.
pub struct Requester {
    /// Set only after the access token verified and the user may still act.
    pub actor: Option<User>,
    pub request_id: String,
    pub client_ip: String,
}

impl RequestContext {
    /// The context of one request — queries, mutations and subscriptions alike — with its loaders for the
    /// actor. `users` comes from [`Loaders::users`] with the same `batches` and `request`: authentication may
    /// have read the actor through it already, and resolvers asking for them again then do not.
    pub fn new(
        services: &Services,
        users: UsersLoader,
        requester: Requester,
        budget: TextBudget,
        batches: &Arc<RequestBatches>,
        request: &Arc<RequestState>,
    ) -> Arc<Self> {
        let Requester {
            actor,
            request_id,
            client_ip,
        } = requester;
        let loaders = Loaders::new(
            users,
            Arc::clone(&services.board),
            actor.as_ref().map(|a| a.id),
            batches,
            request,
        );
        Arc::new(Self {
            actor,
            request_id,
            client_ip,
            loaders,
            budget,
        })
    }
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
