//! Answers kept whole ([`response_cache`]): which requests may be answered from them, for whom, and the
//! answer served from one. A signed-in viewer's answers are kept under a key of their own, and — when
//! only their own fields and counters depended on them — once for every member as a template, filled per
//! viewer from their cache entries (anonymous answers once more as a template of counters); the rules
//! that make both exact: docs/read-cache.md#the-response-cache.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::auth::{self, Authorization};
use super::encode::Media;
use super::outcome::Outcome;
use super::response_cache::{For, Found, KeptTemplate, MissTicket};
use super::slot_values::Read;
use super::template::Template;
use super::{Answer, Asked, Budget, Incoming, Pipeline, observe, points, prepare, response_cache};
use crate::app::AccountService;
use crate::app::board::SlotEntry;
use crate::app::near_cache::NearCache;
use crate::domain::{CategoryId, Comment, CommentId, Post, PostId, User, UserId};
use crate::graphql::cost::{CostLedger, cost_value};
use crate::graphql::errors::finish_response;
use crate::graphql::viewer_reads::{Path, Slot, SlotValue};
use crate::request::RequestState;

/// The response cache's keys of a request: its own (per viewer), and the key of the template every
/// member (or every anonymous request) shares.
#[derive(Debug, Clone, Copy)]
pub(super) struct Keys {
    own: response_cache::Key,
    template: response_cache::Key,
}

/// The ids a template's slots need, by kind.
#[derive(Default)]
struct Wanted {
    post_votes: Vec<PostId>,
    comment_votes: Vec<CommentId>,
    voted_posts: Vec<PostId>,
    voted_comments: Vec<CommentId>,
    saved: Vec<PostId>,
    watched: Vec<PostId>,
    watched_categories: Vec<CategoryId>,
}

impl Wanted {
    fn add(&mut self, slot: Slot) {
        match slot {
            Slot::PostVotes(id) => self.post_votes.push(id),
            Slot::CommentVotes(id) => self.comment_votes.push(id),
            Slot::VotedPost(id) => self.voted_posts.push(id),
            Slot::VotedComment(id) => self.voted_comments.push(id),
            Slot::SavedPost(id) => self.saved.push(id),
            Slot::WatchingPost(id) => self.watched.push(id),
            Slot::WatchingCategory(id) => self.watched_categories.push(id),
            Slot::CanEdit { .. } | Slot::CanDelete { .. } => {}
        }
    }
}

/// A signed-in viewer's values of a template's slots.
struct Own {
    user: User,
    voted_posts: HashSet<PostId>,
    voted_comments: HashSet<CommentId>,
    saved: HashSet<PostId>,
    watched: HashSet<PostId>,
    watched_categories: HashSet<CategoryId>,
}

impl Own {
    /// The viewer's value of a slot of theirs (counters are not).
    fn value(&self, slot: Slot) -> bool {
        match slot {
            Slot::VotedPost(id) => self.voted_posts.contains(&id),
            Slot::VotedComment(id) => self.voted_comments.contains(&id),
            Slot::SavedPost(id) => self.saved.contains(&id),
            Slot::WatchingPost(id) => self.watched.contains(&id),
            Slot::WatchingCategory(id) => self.watched_categories.contains(&id),
            Slot::CanEdit { .. } | Slot::CanDelete { .. } => {
                slot.by_rights(&self.user).unwrap_or(false)
            }
            Slot::PostVotes(_) | Slot::CommentVotes(_) => false,
        }
    }
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
                        template: key(For::Guests),
                    },
                    Some(user) => Keys {
                        own: key(For::Viewer(user)),
                        template: key(For::Members),
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
        match answers.lookup(keys.own, Some(keys.template)).await {
            Found::Kept(kept) => Ok(kept),
            Found::Miss(ticket) => Err(ticket),
            Found::Template(kept, key, ticket) => {
                match self.fill(answers, key, &kept, viewer).await {
                    // Kept as the viewer's own answer too: their next read is a plain hit.
                    Some(body) => answers.keep(ticket, &body, kept.cost, None).ok_or(None),
                    None => Err(Some(ticket)),
                }
            }
        }
    }

    /// The template kept under `key` filled for this request: its counters, and for a signed-in `viewer`
    /// their own fields, spliced in from values kept between requests (see `slot_values`), read again only
    /// when a deletion touched one of their entries. A viewer's own values are read with their user, read
    /// too — the template was built for another viewer, so this one must still be admitted. `None`: they
    /// may not act, a read failed, or an entry is gone; the request is then resolved as any other.
    async fn fill(
        &self,
        answers: &response_cache::ResponseCache,
        key: response_cache::Key,
        kept: &KeptTemplate,
        viewer: Option<UserId>,
    ) -> Option<Vec<u8>> {
        let template = &kept.template;
        let of_viewer = template.slots().any(Slot::is_viewers);
        let has_counts = template.slots().any(Slot::is_count);
        let (counts, own) = tokio::join!(
            async {
                if !has_counts {
                    return Some(None);
                }
                answers
                    .counts(key, kept, || self.read_counts(template))
                    .await
                    .map(Some)
            },
            async {
                match viewer {
                    Some(viewer) => answers
                        .own(key, viewer, kept, || self.read_own(template, viewer))
                        .await
                        .map(Some),
                    None if of_viewer => None,
                    None => Some(None),
                }
            }
        );
        let (counts, own) = (counts?, own?);
        let mut missing = false;
        let filled = template.fill(|index, slot| {
            let values = if slot.is_count() { &counts } else { &own };
            let value = values
                .as_ref()
                .and_then(|v| v.values.get(index).copied().flatten());
            value.unwrap_or_else(|| {
                missing = true;
                SlotValue::Bool(false)
            })
        });
        (!missing).then_some(filled)
    }

    /// The template's counters, one per slot, from their posts' and comments' entries.
    async fn read_counts(&self, template: &Template) -> Option<Read> {
        let mut wanted = Wanted::default();
        for slot in template.slots().filter(|s| s.is_count()) {
            wanted.add(slot);
        }
        let (posts, comments) = self.counts(&wanted).await?;
        let board = &self.services.board;
        let mut buckets = Vec::new();
        let mut values = Vec::new();
        for slot in template.slots() {
            let (value, entry) = match slot {
                Slot::PostVotes(id) => (posts.get(&id)?.vote_count, SlotEntry::Post(id)),
                Slot::CommentVotes(id) => (comments.get(&id)?.vote_count, SlotEntry::Comment(id)),
                _ => {
                    values.push(None);
                    continue;
                }
            };
            values.push(Some(SlotValue::Count(value)));
            buckets.push(NearCache::bucket(&board.entry_key(entry)));
        }
        Some((values, buckets))
    }

    /// `viewer`'s own values of the template, one per slot, from their entries, and their user's.
    async fn read_own(&self, template: &Template, viewer: UserId) -> Option<Read> {
        let mut wanted = Wanted::default();
        for slot in template.slots().filter(|s| s.is_viewers()) {
            wanted.add(slot);
        }
        let own = self.viewers_slots(viewer, &wanted).await?;
        let board = &self.services.board;
        let mut buckets = vec![NearCache::bucket(&self.services.accounts.user_key(viewer))];
        let mut values = Vec::new();
        for slot in template.slots() {
            if slot.is_count() {
                values.push(None);
                continue;
            }
            values.push(Some(SlotValue::Bool(own.value(slot))));
            let entry = match slot {
                Slot::VotedPost(id) => SlotEntry::VotedPost(viewer, id),
                Slot::VotedComment(id) => SlotEntry::VotedComment(viewer, id),
                Slot::SavedPost(id) => SlotEntry::SavedPost(viewer, id),
                Slot::WatchingPost(id) => SlotEntry::WatchingPost(viewer, id),
                Slot::WatchingCategory(id) => SlotEntry::WatchingCategory(viewer, id),
                // Decided by the viewer's user, whose entry is counted above.
                Slot::CanEdit { .. } | Slot::CanDelete { .. } => continue,
                Slot::PostVotes(_) | Slot::CommentVotes(_) => continue,
            };
            buckets.push(NearCache::bucket(&board.entry_key(entry)));
        }
        Some((values, buckets))
    }

    /// The posts and comments whose counters `wanted` names, from their entries.
    async fn counts(
        &self,
        wanted: &Wanted,
    ) -> Option<(HashMap<PostId, Post>, HashMap<CommentId, Comment>)> {
        let board = &self.services.board;
        let (posts, comments) = tokio::join!(
            async {
                if wanted.post_votes.is_empty() {
                    Ok(HashMap::new())
                } else {
                    board.posts_by_ids(&wanted.post_votes).await
                }
            },
            async {
                if wanted.comment_votes.is_empty() {
                    Ok(HashMap::new())
                } else {
                    board.comments_by_ids(&wanted.comment_votes).await
                }
            },
        );
        Some((posts.ok()?, comments.ok()?))
    }

    /// What `viewer` has of the slots `wanted` names, and their user (admitted).
    async fn viewers_slots(&self, viewer: UserId, wanted: &Wanted) -> Option<Own> {
        let board = &self.services.board;
        let viewers = [viewer];
        let (user, voted_posts, voted_comments, saved, watched, watched_categories) = tokio::join!(
            self.services.accounts.users_by_ids(&viewers),
            board.voted_posts(viewer, &wanted.voted_posts),
            board.voted_comments(viewer, &wanted.voted_comments),
            board.saved_posts(viewer, &wanted.saved),
            board.watched_posts(viewer, &wanted.watched),
            board.watched_categories(viewer, &wanted.watched_categories),
        );
        Some(Own {
            user: auth::admit(user.ok()?.remove(&viewer)).ok()?,
            voted_posts: voted_posts.ok()?,
            voted_comments: voted_comments.ok()?,
            saved: saved.ok()?,
            watched: watched.ok()?,
            watched_categories: watched_categories.ok()?,
        })
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
