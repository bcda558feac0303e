//! Answers kept whole ([`response_cache`]): which requests may be answered from them, for whom, and the
//! answer served from one. A signed-in viewer's answers are kept under a key of their own, and — when
//! only their own fields depended on them — once for every member as a template, filled per viewer from
//! their cache entries; the rules that make both exact: docs/read-cache.md#the-response-cache.

use std::sync::Arc;

use super::auth::{self, Authorization};
use super::encode::Media;
use super::outcome::Outcome;
use super::response_cache::{For, Found, MissTicket};
use super::template::Template;
use super::{Answer, Asked, Budget, Incoming, Pipeline, observe, points, prepare, response_cache};
use crate::app::AccountService;
use crate::domain::UserId;
use crate::graphql::cost::{CostLedger, cost_value};
use crate::graphql::errors::finish_response;
use crate::graphql::viewer_reads::{Path, Slot};
use crate::request::RequestState;

/// The response cache's keys of a request: its own (per viewer), and for a signed-in viewer the key of the
/// template every member shares.
#[derive(Debug, Clone, Copy)]
pub(super) struct Keys {
    own: response_cache::Key,
    members: Option<response_cache::Key>,
}

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
    /// The response cache's keys of a request that may be answered from it: one request (if it turns out
    /// to be a query), not refused by its transport, for `viewer` (see [`viewer`]).
    pub(super) fn kept_keys(
        &self,
        requests: &[Incoming],
        batch: bool,
        viewer: Option<Option<UserId>>,
        media: Media,
    ) -> Option<Keys> {
        match (&self.answers, requests, viewer) {
            (Some(_), [only], Some(viewer)) if !batch && only.refusal.is_none() => {
                let key = |who| {
                    response_cache::ResponseCache::key(
                        &only.request,
                        only.document_id.as_deref(),
                        u8::from(media == Media::Json),
                        who,
                    )
                };
                Some(match viewer {
                    None => Keys {
                        own: key(For::Anonymous),
                        members: None,
                    },
                    Some(user) => Keys {
                        own: key(For::Viewer(user)),
                        members: Some(key(For::Members)),
                    },
                })
            }
            _ => None,
        }
    }

    /// The kept answer of a prepared query — the viewer's own, or the members' template filled with their
    /// fields — or the ticket to keep its answer (`None`: it may not be kept).
    pub(super) async fn look_up_kept(
        &self,
        keys: Option<Keys>,
        prepared: &[prepare::Prepared],
        viewer: Option<UserId>,
    ) -> Result<Arc<response_cache::CachedResponse>, Option<MissTicket<'_>>> {
        let (Some(answers), Some(keys), [p]) = (&self.answers, keys, prepared) else {
            return Err(None);
        };
        if p.refusal.is_some() || p.ty != "query" {
            return Err(None);
        }
        match answers.lookup(keys.own, keys.members).await {
            Found::Kept(kept) => Ok(kept),
            Found::Miss(ticket) => Err(ticket),
            Found::Template(kept, ticket) => {
                let filled = match viewer {
                    Some(viewer) => self.fill(&kept.template, viewer).await,
                    None => None,
                };
                match filled {
                    // Kept as the viewer's own answer too: their next read is a plain hit.
                    Some(body) => answers.keep(ticket, &body, kept.cost, None).ok_or(None),
                    None => Err(Some(ticket)),
                }
            }
        }
    }

    /// `template` filled with `viewer`'s own fields: each kind of slot read from the viewer's cache entries
    /// (one read per kind, all at once; none when the near cache holds them), the rights slots decided by
    /// the viewer's user, read too — the template was built for another viewer, so this one must still be
    /// admitted. `None`: they may not act, or a read failed; the request is then resolved as any other.
    async fn fill(&self, template: &Template, viewer: UserId) -> Option<Vec<u8>> {
        let (mut voted_posts, mut voted_comments, mut saved, mut watched, mut watched_categories) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for slot in template.slots() {
            match slot {
                Slot::VotedPost(id) => voted_posts.push(id),
                Slot::VotedComment(id) => voted_comments.push(id),
                Slot::SavedPost(id) => saved.push(id),
                Slot::WatchingPost(id) => watched.push(id),
                Slot::WatchingCategory(id) => watched_categories.push(id),
                Slot::CanEdit { .. } | Slot::CanDelete { .. } => {}
            }
        }
        let board = &self.services.board;
        let viewers = [viewer];
        let (user, voted_posts, voted_comments, saved, watched, watched_categories) = tokio::join!(
            self.services.accounts.users_by_ids(&viewers),
            board.voted_posts(viewer, &voted_posts),
            board.voted_comments(viewer, &voted_comments),
            board.saved_posts(viewer, &saved),
            board.watched_posts(viewer, &watched),
            board.watched_categories(viewer, &watched_categories),
        );
        let user = auth::admit(user.ok()?.remove(&viewer)).ok()?;
        let (voted_posts, voted_comments, saved, watched, watched_categories) = (
            voted_posts.ok()?,
            voted_comments.ok()?,
            saved.ok()?,
            watched.ok()?,
            watched_categories.ok()?,
        );
        Some(template.fill(|slot| match slot {
            Slot::VotedPost(id) => voted_posts.contains(&id),
            Slot::VotedComment(id) => voted_comments.contains(&id),
            Slot::SavedPost(id) => saved.contains(&id),
            Slot::WatchingPost(id) => watched.contains(&id),
            Slot::WatchingCategory(id) => watched_categories.contains(&id),
            Slot::CanEdit { .. } | Slot::CanDelete { .. } => slot.by_rights(&user).unwrap_or(false),
        }))
    }

    /// Keeps an answer built with `ticket` (without the cost numbers of the request that built it), and
    /// for a signed-in request its template when `slots` (the viewer's own fields; `None`: the answer is
    /// the viewer's alone) allow one.
    pub(super) fn keep(
        &self,
        ticket: MissTicket<'_>,
        body: &[u8],
        cost: u64,
        slots: Option<&[(Path, Slot)]>,
    ) {
        if let Some(answers) = &self.answers {
            answers.keep(ticket, body, cost, slots);
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
