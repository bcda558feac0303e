//! The response cache: whole answers of queries (each viewer's under keys of their own), and answers kept once
//! for every signed-in viewer with the viewer's own fields left to fill (templates), kept while nothing they
//! were read from can have changed (tagged with the near cache's generation). The generation rule and its
//! sequence: docs/read-cache.md#the-response-cache.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::slot_values::{self, Read, SlotVector};
use super::template::Template;
use crate::app::flights::{self, Boarding, Flights, Lead};
use crate::app::near_cache::NearCache;
use crate::domain::UserId;
use crate::graphql::viewer_reads::{Path, Slot};
use crate::telemetry::metrics;

/// The `cache` label of the response cache's lookups and keeps in `board.cache.requests`.
pub(super) const METRIC: &str = "response";

/// Bodies larger than this are not kept (a cache for small, hot answers).
const MAX_BODY: usize = 256 * 1024;
/// All kept bodies together stay under this.
const MAX_BYTES: u64 = 32 * 1024 * 1024;
/// All templates together stay under this.
const MAX_TEMPLATE_BYTES: u64 = 8 * 1024 * 1024;
/// Templates' counters, kept once for every request, stay under this.
const MAX_COUNTS_BYTES: u64 = 4 * 1024 * 1024;
/// Signed-in viewers' own values of templates stay under this (16 bytes per slot and viewer).
const MAX_OWN_BYTES: u64 = 32 * 1024 * 1024;
/// How many requests are remembered as answered for their viewer alone.
const MAX_OWN_ONLY: u64 = 10_000;

/// What identifies an answer: everything of the request that shapes it.
pub(super) type Key = [u8; 32];

/// Whom an answer is for, as its key says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum For {
    Anonymous,
    /// One signed-in viewer.
    Viewer(UserId),
    /// Every signed-in viewer: a template, filled per viewer.
    Members,
    /// Every anonymous request: a template whose slots are counters only.
    Guests,
}

pub(super) struct ResponseCache {
    near: Arc<NearCache>,
    kept: moka::sync::Cache<Key, Arc<CachedResponse>>,
    /// Answers kept once for every signed-in viewer (by their [`For::Members`] key), to be filled with
    /// the viewer's own fields.
    templates: moka::sync::Cache<Key, Arc<KeptTemplate>>,
    /// Template keys whose last answer was the viewer's alone: other viewers asking meanwhile do not wait
    /// for it to be built (a hint; a template is still kept if the next answer makes one).
    own_only: moka::sync::Cache<Key, ()>,
    /// Answers being built: the same request arriving meanwhile waits for the answer instead of
    /// building it again.
    building: Flights<Key, CachedResponse>,
    /// Templates being built: another signed-in viewer's same request waits for it and fills it.
    shaping: Flights<Key, KeptTemplate>,
    /// Each template's counters (by its key), read once for every request.
    counts: slot_values::Kept<Key>,
    /// Each signed-in viewer's own values of a template (by its key).
    own: slot_values::Kept<(Key, UserId)>,
}

/// A cached response: the body of an answer without errors (without the cost numbers of the request that
/// built it: each request that gets it adds its own), with the generation it was built at.
pub(super) struct CachedResponse {
    generation: u64,
    pub body: Vec<u8>,
    /// The points the operation costs (spent again by every request that gets the answer).
    pub cost: u64,
}

/// A template with the layout generation it was built at (see [`NearCache::layout`]) and the points its
/// operation costs.
pub(super) struct KeptTemplate {
    layout: u64,
    pub cost: u64,
    pub template: Template,
}

/// What a lookup found.
pub(super) enum Found<'a> {
    /// The request's own kept answer, current.
    Kept(Arc<CachedResponse>),
    /// A current template of the request: filled with the viewer's fields, it is their answer (keep it with
    /// the ticket).
    Template(Arc<KeptTemplate>, Key, MissTicket<'a>),
    /// Nothing: build the answer (`None`: it may not be kept).
    Miss(Option<MissTicket<'a>>),
}

/// A cache miss ticket: what [`ResponseCache::keep`] needs to know whether the answer may be kept, and
/// the requests waiting for it (dropped unkept, they build their own).
pub(super) struct MissTicket<'a> {
    key: Key,
    generation: u64,
    /// The near cache's layout generation, taken with `generation`.
    layout: u64,
    waiting: Option<Lead<'a, Key, CachedResponse>>,
    /// A signed-in request's template, when it is to be built from this answer.
    template: Option<TemplateTicket<'a>>,
}

struct TemplateTicket<'a> {
    key: Key,
    /// Other viewers waiting for it (dropped unkept, they build their own answers).
    waiting: Option<Lead<'a, Key, KeptTemplate>>,
}

impl MissTicket<'_> {
    /// Whether the answer may become a template: then what it takes from its viewer must be recorded.
    pub fn records_viewer(&self) -> bool {
        self.template.is_some()
    }
}

impl ResponseCache {
    /// Cached responses live at most `ttl` (the near cache's), like the values they were built from.
    pub fn new(near: Arc<NearCache>, ttl: Duration) -> Self {
        let kept = moka::sync::Cache::builder()
            .max_capacity(MAX_BYTES)
            .weigher(|_, kept: &Arc<CachedResponse>| {
                u32::try_from(kept.body.len()).unwrap_or(u32::MAX)
            })
            .time_to_live(ttl)
            .build();
        let templates = moka::sync::Cache::builder()
            .max_capacity(MAX_TEMPLATE_BYTES)
            .weigher(|_, kept: &Arc<KeptTemplate>| {
                u32::try_from(kept.template.len()).unwrap_or(u32::MAX)
            })
            .time_to_live(ttl)
            .build();
        let own_only = moka::sync::Cache::builder()
            .max_capacity(MAX_OWN_ONLY)
            .time_to_live(ttl)
            .build();
        Self {
            near,
            kept,
            templates,
            own_only,
            building: Flights::default(),
            shaping: Flights::default(),
            counts: slot_values::Kept::new("counts-read", MAX_COUNTS_BYTES, ttl),
            own: slot_values::Kept::new("own-read", MAX_OWN_BYTES, ttl),
        }
    }

    /// The current counters of the template kept under `key`: held, or read by `read`.
    pub async fn counts<F, Fut>(
        &self,
        key: Key,
        template: &KeptTemplate,
        read: F,
    ) -> Option<Arc<SlotVector>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Option<Read>>,
    {
        self.counts
            .current(&self.near, key, template.layout, read)
            .await
    }

    /// `viewer`'s current own values of the template kept under `key`: held, or read by `read`.
    pub async fn own<F, Fut>(
        &self,
        key: Key,
        viewer: UserId,
        template: &KeptTemplate,
        read: F,
    ) -> Option<Arc<SlotVector>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Option<Read>>,
    {
        self.own
            .current(&self.near, (key, viewer), template.layout, read)
            .await
    }

    /// The key of one request's text, operation name, variables, extensions (a persisted query's hash),
    /// document id, media type and whom it is for.
    pub fn key(
        request: &async_graphql::Request,
        document_id: Option<&str>,
        media: u8,
        viewer: For,
    ) -> Key {
        let mut hash = Sha256::new();
        match viewer {
            For::Anonymous => hash.update([0]),
            For::Viewer(user) => {
                hash.update([1]);
                hash.update(user.0.to_le_bytes());
            }
            For::Members => hash.update([2]),
            For::Guests => hash.update([3]),
        }
        for part in [
            request.query.as_bytes(),
            request
                .operation_name
                .as_deref()
                .unwrap_or_default()
                .as_bytes(),
            document_id.unwrap_or_default().as_bytes(),
        ] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
        let rest =
            serde_json::to_vec(&(&request.variables, &request.extensions)).unwrap_or_default();
        hash.update(rest);
        hash.update([media]);
        hash.finalize().into()
    }

    /// The kept answer of `key` if it is still current; else its current template (`template`: its
    /// [`For::Members`] or [`For::Guests`] key), waiting for one being built; else what is needed to keep
    /// this request's answer.
    pub async fn lookup(&self, key: Key, template: Option<Key>) -> Found<'_> {
        if !self.near.synced().await {
            // Not following the deletions right now: nothing kept can be trusted, and nothing may be kept.
            metrics::cache(METRIC, "bypassed", 1);
            return Found::Miss(None);
        }
        // The generation first: a deletion advances the layout before the generation, so a layout read
        // after a generation is never older than it (an answer filled from an older template would
        // otherwise be kept under a generation that follows a deletion it does not show).
        let generation = self.near.generation();
        let layout = self.near.layout();
        if let Some(kept) = self.kept.get(&key).filter(|k| k.generation == generation) {
            metrics::cache(METRIC, "kept", 1);
            return Found::Kept(kept);
        }
        let waiting =
            match self
                .building
                .board(generation, None, &[key], flights::same_generation_only)
            {
                Boarding::Lead(lead) => Some(lead),
                Boarding::Follow(building) => {
                    for answer in building {
                        if let Some(answer) = flights::wait(answer).await {
                            metrics::cache(METRIC, "joined", 1);
                            return Found::Kept(answer);
                        }
                    }
                    // The request building it gave up (an error, an answer not to keep): build this one.
                    None
                }
            };
        let mut miss = MissTicket {
            key,
            generation,
            layout,
            waiting,
            template: None,
        };
        let Some(template_key) = template else {
            metrics::cache(METRIC, "built", 1);
            return Found::Miss(Some(miss));
        };
        if let Some(kept) = self
            .templates
            .get(&template_key)
            .filter(|t| t.layout == layout)
        {
            metrics::cache(METRIC, "template", 1);
            return Found::Template(kept, template_key, miss);
        }
        let waiting = if self.own_only.contains_key(&template_key) {
            None
        } else {
            match self.shaping.board(
                generation,
                None,
                &[template_key],
                flights::same_generation_only,
            ) {
                Boarding::Lead(lead) => Some(lead),
                Boarding::Follow(shaping) => {
                    for template in shaping {
                        if let Some(template) = flights::wait(template).await {
                            metrics::cache(METRIC, "template", 1);
                            return Found::Template(template, template_key, miss);
                        }
                    }
                    // Its answer was the viewer's alone, or not to keep: build this one.
                    None
                }
            }
        };
        miss.template = Some(TemplateTicket {
            key: template_key,
            waiting,
        });
        metrics::cache(METRIC, "built", 1);
        Found::Miss(Some(miss))
    }

    /// Keeps an answer built after `miss` was looked up, unless a deletion happened meanwhile or it is
    /// large. The requests that waited for it get it either way (unless large): they joined before any
    /// such deletion, and it was built after they began waiting — as current as building their own.
    ///
    /// For a signed-in request that may become a template, `slots` are the viewer's own fields of the
    /// answer (`None`: something else of it depended on the viewer): found in the body, they make the
    /// template, kept and handed to the viewers waiting for it the same way.
    pub fn keep(
        &self,
        miss: MissTicket<'_>,
        body: &[u8],
        cost: u64,
        slots: Option<&[(Path, Slot)]>,
    ) -> Option<Arc<CachedResponse>> {
        if body.len() > MAX_BODY {
            return None;
        }
        let layout_current = self.near.layout() == miss.layout;
        let current = self.near.generation() == miss.generation;
        let answer = Arc::new(CachedResponse {
            generation: miss.generation,
            body: body.to_vec(),
            cost,
        });
        if current {
            self.kept.insert(miss.key, Arc::clone(&answer));
        } else {
            // Built across a deletion: served to the requests that waited for it, kept for none after.
            metrics::cache(METRIC, "outdated", 1);
        }
        if let Some(waiting) = miss.waiting {
            waiting.land(Arc::clone(&answer));
        }
        if let Some(shaped) = miss.template {
            match slots.and_then(|slots| Template::new(body, slots)) {
                Some(template) => {
                    let template = Arc::new(KeptTemplate {
                        layout: miss.layout,
                        cost,
                        template,
                    });
                    if layout_current {
                        self.own_only.invalidate(&shaped.key);
                        self.templates.insert(shaped.key, Arc::clone(&template));
                    }
                    if let Some(waiting) = shaped.waiting {
                        waiting.land(template);
                    }
                }
                None => self.own_only.insert(shaped.key, ()),
            }
        }
        Some(answer)
    }
}

#[cfg(test)]
mod tests;
