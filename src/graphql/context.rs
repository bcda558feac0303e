//! What a request carries into the resolvers: who is asking, its request id, and its loaders, built by one
//! function for queries, mutations and subscriptions alike. Who is asking is read only through accessors
//! that record what the answer took from the viewer (`viewer_reads`). docs/request-context.md.

use std::sync::Arc;

use async_graphql::Context;

use super::Services;
use super::batches::RequestBatches;
use super::budget::TextBudget;
use super::errors::GqlResult;
use super::loaders::{Loaders, UsersLoader};
use super::viewer_reads::{Path, Slot, Viewer, path_of};
use crate::domain::{AppError, User};
use crate::request::RequestState;

/// Per request. The viewer is set only after the access token verified and the user may still act.
pub struct RequestContext {
    /// Private, and private inside: read through [`RequestContext::viewer`] or
    /// [`RequestContext::viewer_for`], which record the read when the response cache asks.
    viewer: Viewer,
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
    /// The context of one request — queries, mutations and subscriptions alike — with its loaders. `users`
    /// comes from [`Loaders::users`] with the same `batches` and `request`: authentication may have read the
    /// actor through it already, and resolvers asking for them again then do not.
    pub fn new(
        services: &Services,
        users: UsersLoader,
        requester: Requester,
        budget: TextBudget,
        batches: &Arc<RequestBatches>,
        request: &Arc<RequestState>,
    ) -> Arc<Self> {
        Self::build(services, users, requester, budget, batches, request, false)
    }

    /// The same, recording what the answer takes from its viewer ([`RequestContext::slots`]).
    pub fn recording(
        services: &Services,
        users: UsersLoader,
        requester: Requester,
        budget: TextBudget,
        batches: &Arc<RequestBatches>,
        request: &Arc<RequestState>,
    ) -> Arc<Self> {
        Self::build(services, users, requester, budget, batches, request, true)
    }

    fn build(
        services: &Services,
        users: UsersLoader,
        requester: Requester,
        budget: TextBudget,
        batches: &Arc<RequestBatches>,
        request: &Arc<RequestState>,
        recording: bool,
    ) -> Arc<Self> {
        let Requester {
            actor,
            request_id,
            client_ip,
        } = requester;
        let loaders = Loaders::new(users, Arc::clone(&services.board), batches, request);
        Arc::new(Self {
            viewer: Viewer::new(actor, recording),
            request_id,
            client_ip,
            loaders,
            budget,
        })
    }

    /// The signed-in viewer (`None`: anonymous). Whatever is made of it makes the answer the viewer's own
    /// (kept for them alone): their identity, role and rights.
    pub fn viewer(&self) -> Option<&User> {
        self.viewer.get()
    }

    /// The signed-in viewer for one of their own fields, the field `ctx` resolves, whose value `slot`
    /// decides (from the viewer's cache entries or [`Slot::by_rights`]) and nothing else of the viewer:
    /// recorded as a slot, which another viewer's answer fills with their own value.
    pub fn viewer_for(&self, ctx: &Context<'_>, slot: Slot) -> Option<&User> {
        self.viewer.for_slot(|| path_of(ctx), slot)
    }

    /// The field `ctx` resolves is the counter `slot` (the same for every viewer): recorded as a slot, which
    /// an answer served from a kept template fills with the counter's current value.
    pub fn count_slot(&self, ctx: &Context<'_>, slot: Slot) {
        self.viewer.count_slot(|| path_of(ctx), slot);
    }

    /// The slots of the answer if nothing else of it depended on the viewer; `None`: it is the viewer's
    /// own, or nothing was recorded.
    pub fn slots(&self) -> Option<Vec<(Path, Slot)>> {
        self.viewer.slots()
    }
}

pub trait ContextExt {
    fn request(&self) -> GqlResult<&RequestContext>;
    fn services(&self) -> GqlResult<&Services>;
    /// The signed-in user, or `UNAUTHENTICATED` (see [`RequestContext::viewer`]).
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
        self.request()?.viewer().ok_or_else(|| {
            super::errors::to_gql(&AppError::Unauthenticated("sign in first".into()))
        })
    }
}
