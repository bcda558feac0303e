//! Answers kept whole ([`response_cache`]): which requests may be answered from them, for whom, and the
//! answer served from one. A signed-in viewer's answers are kept under a key of their own; the rule that
//! makes them exact: docs/read-cache.md#the-response-cache.

use std::sync::Arc;

use super::auth::{self, Authorization};
use super::encode::Media;
use super::outcome::Outcome;
use super::{Answer, Asked, Budget, Incoming, Pipeline, observe, points, prepare, response_cache};
use crate::app::AccountService;
use crate::domain::UserId;
use crate::graphql::cost::{CostLedger, cost_value};
use crate::graphql::errors::finish_response;
use crate::request::RequestState;

/// Whom an answer would be kept for: `Some(None)` anonymous, `Some(Some(id))` the user a valid token
/// names, `None` credentials that do not verify (the request runs and is refused; nothing is kept).
///
/// Whether that user may still act is not read here: an answer is kept only after the user was admitted
/// while it was built, and any change of the user (a block, a role) deletes their cache entry, which
/// retires every answer kept before it.
pub(super) fn viewer(
    accounts: &AccountService,
    authorization: &Authorization,
) -> Option<Option<UserId>> {
    auth::verify(accounts, authorization).ok()
}

impl Pipeline {
    /// The response cache's key of a request that may be answered from it: one request (if it turns out
    /// to be a query), not refused by its transport, for `viewer` (see [`viewer`]).
    pub(super) fn kept_key(
        &self,
        requests: &[Incoming],
        batch: bool,
        viewer: Option<Option<UserId>>,
        media: Media,
    ) -> Option<response_cache::Key> {
        match (&self.answers, requests, viewer) {
            (Some(_), [only], Some(viewer)) if !batch && only.refusal.is_none() => {
                Some(response_cache::ResponseCache::key(
                    &only.request,
                    only.document_id.as_deref(),
                    u8::from(media == Media::Json),
                    viewer,
                ))
            }
            _ => None,
        }
    }

    /// The kept answer of a prepared query, or the ticket to keep its answer (`None`: it may not be kept).
    pub(super) async fn look_up_kept(
        &self,
        key: Option<response_cache::Key>,
        prepared: &[prepare::Prepared],
    ) -> Result<Arc<response_cache::CachedResponse>, Option<response_cache::MissTicket<'_>>> {
        match (&self.answers, key, prepared) {
            (Some(answers), Some(key), [p]) if p.refusal.is_none() && p.ty == "query" => {
                answers.lookup(key).await
            }
            _ => Err(None),
        }
    }

    /// The answer served from a kept answer, observed (log line, metrics) like any other. It costs what
    /// the operation cost when it was built, spent from the viewer's budget like any other.
    pub(super) async fn answer_kept(
        &self,
        kept: &response_cache::CachedResponse,
        asked: &Asked<'_>,
        prepared: &[prepare::Prepared],
        request: &RequestState,
        viewer: Option<UserId>,
        ledger: &CostLedger,
    ) -> Answer {
        let spent = ledger.spend(kept.cost).await;
        let (outcome, body, responses, per_request_tail, points) = match spent {
            Ok(points) => {
                let remaining = points.remaining();
                let body = points::with_cost(&kept.body, kept.cost, remaining);
                let tail = points::tail_len(kept.cost, remaining);
                let response = async_graphql::Response::new(async_graphql::Value::Null);
                (Outcome::Answered, body, vec![response], tail, points)
            }
            Err((points, error)) => {
                let mut response = finish_response(
                    async_graphql::Response::from_errors(vec![
                        error.into_server_error(Default::default()),
                    ]),
                    asked.request_id,
                );
                response
                    .extensions
                    .insert("cost".to_owned(), cost_value(kept.cost, points.remaining()));
                let (outcome, body, responses) = self.encode(vec![response], prepared, asked);
                (outcome, body, responses, 0, points)
            }
        };
        observe::record(
            &asked.requester(viewer),
            prepared,
            &responses,
            request.started().elapsed(),
            request,
        );
        let answered = outcome == Outcome::Answered;
        Answer {
            outcome,
            media: asked.media,
            body,
            round_trips: Some((request.db(), request.cache())),
            max_age: asked.max_age.filter(|_| answered),
            kept: answered,
            budget: Some(Budget::of(&points)),
            retry_after: super::rate_limited_after(outcome, &responses),
            per_request_tail,
        }
    }
}
