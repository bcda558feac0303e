//! The board: categories, posts, comments, votes, saves and watches. Reads go through the cache ([`reads`]), lists and
//! counts through [`routed`]; writes ([`writes`]) commit, then forget the keys they touched
//! ([`invalidation`]). The layers: docs/request-context.md.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

mod comment_head;
mod events;
pub(crate) use events::announce;
mod invalidation;
mod limits;
pub mod moderation;
mod newest;
mod reads;
mod routed;
mod saves;
mod viewer;
pub use viewer::SlotEntry;
mod writes;

pub use routed::ReadReplica;
use routed::{ReplicaHealth, Routed};

use super::cache_aside::CacheAside;
use super::inbox::OutboxWake;
use super::rate_limit::Limiter;
use crate::domain::{AppError, AppResult, Revision, User, UserId};
use crate::ports::{
    CategoryRepo, Clock, CommentRepo, Events, ModerationRepo, PostRepo, PostSearch, SaveRepo,
    VoteRepo, WatchRepo,
};

const CATEGORIES: &str = "categories";
const POST: &str = "post";
const POST_REVISIONS: &str = "post_revisions";
const COMMENT: &str = "comment";
const COMMENT_REVISIONS: &str = "comment_revisions";
/// Whether a viewer voted for a post / a comment: `<prefix>:v1:voted_post:<viewer>:<post>`.
const VOTED_POST: &str = "voted_post";
const VOTED_COMMENT: &str = "voted_comment";
/// Whether a viewer saved / watches a post, watches a category: `<prefix>:v1:saved_post:<viewer>:<post>` …
const SAVED_POST: &str = "saved_post";
const WATCHING_POST: &str = "watching_post";
const WATCHING_CATEGORY: &str = "watching_category";
/// A search's `totalCount` is exact up to this many posts; beyond it answers this plus one ("more than").
pub const SEARCH_COUNT_CAP: i64 = 10_000;
/// The whole category tree is one cache entry.
const TREE_ID: &str = "all";

pub struct BoardService {
    categories: Arc<dyn CategoryRepo>,
    posts: Routed<dyn PostRepo>,
    search: Routed<dyn PostSearch>,
    comments: Routed<dyn CommentRepo>,
    votes: Routed<dyn VoteRepo>,
    /// Moderators, removals, locks, pins and the log (on the primary).
    moderation: Arc<dyn ModerationRepo>,
    /// Saved posts and watches (on the primary: they are the viewer's own).
    saves: Arc<dyn SaveRepo>,
    watches: Arc<dyn WatchRepo>,
    clock: Arc<dyn Clock>,
    cache: CacheAside,
    /// With a replica: how long after a write its viewer's reads stay on the primary.
    read_your_writes: Option<Duration>,
    /// Edits and creations per user.
    limiter: Arc<Limiter>,
    /// Where committed writes are announced.
    events: Arc<dyn Events>,
    /// Nudged after a write that added notification outbox entries.
    outbox: OutboxWake,
}

/// The repositories the board reads and writes (on the primary).
pub struct BoardRepos {
    pub categories: Arc<dyn CategoryRepo>,
    pub posts: Arc<dyn PostRepo>,
    pub search: Arc<dyn PostSearch>,
    pub comments: Arc<dyn CommentRepo>,
    pub votes: Arc<dyn VoteRepo>,
    pub moderation: Arc<dyn ModerationRepo>,
    pub saves: Arc<dyn SaveRepo>,
    pub watches: Arc<dyn WatchRepo>,
}

/// Cache key kind of the read-your-writes fence: `<prefix>:v1:wrote:<user id>`.
const WROTE: &str = "wrote";

fn require_member(actor: &User) -> AppResult<()> {
    if actor.may_act() {
        Ok(())
    } else {
        Err(AppError::Forbidden("this account may not write".into()))
    }
}

fn require_admin(actor: &User) -> AppResult<()> {
    if actor.is_admin() && actor.may_act() {
        Ok(())
    } else {
        Err(AppError::Forbidden("only an admin may do this".into()))
    }
}

/// Groups `(owner, revision)` rows (oldest first) by owner.
fn group_revisions<K: Copy + Eq + std::hash::Hash>(
    rows: Vec<(K, Revision)>,
) -> Vec<(K, Vec<Revision>)> {
    let mut grouped: HashMap<K, Vec<Revision>> = HashMap::new();
    for (owner, revision) in rows {
        grouped.entry(owner).or_default().push(revision);
    }
    grouped.into_iter().collect()
}

impl BoardService {
    pub fn new(
        repos: BoardRepos,
        clock: Arc<dyn Clock>,
        cache: CacheAside,
        limiter: Arc<Limiter>,
        events: Arc<dyn Events>,
        outbox: OutboxWake,
    ) -> Self {
        let BoardRepos {
            categories,
            posts,
            search,
            comments,
            votes,
            moderation,
            saves,
            watches,
        } = repos;
        Self {
            categories,
            posts: Routed::primary_only(posts),
            search: Routed::primary_only(search),
            comments: Routed::primary_only(comments),
            votes: Routed::primary_only(votes),
            moderation,
            saves,
            watches,
            clock,
            cache,
            read_your_writes: None,
            limiter,
            events,
            outbox,
        }
    }

    /// The same service with its uncached reads routed to `replica` where the request allows it.
    pub fn with_replica(self, replica: ReadReplica) -> Self {
        let health = Arc::new(ReplicaHealth::default());
        Self {
            posts: self.posts.with_replica(replica.posts, &health),
            search: self.search.with_replica(replica.search, &health),
            comments: self.comments.with_replica(replica.comments, &health),
            votes: self.votes.with_replica(replica.votes, &health),
            read_your_writes: Some(replica.read_your_writes),
            ..self
        }
    }

    pub fn has_replica(&self) -> bool {
        self.read_your_writes.is_some()
    }

    /// Keeps `viewer`'s reads on the primary for the next `read_your_writes_secs`, on every process sharing
    /// the cache. A no-op without a replica.
    pub async fn record_write(&self, viewer: UserId) {
        let Some(read_your_writes) = self.read_your_writes else {
            return;
        };
        let entry = [(
            self.cache.key(WROTE, viewer),
            "1".to_owned(),
            read_your_writes,
        )];
        if let Err(err) = self.cache.cache().set_many(&entry).await {
            // The cache failed: the viewer's next reads most likely cannot read the fence either, and then
            // go to the primary.
            tracing::warn!(error = %err, user = %viewer, "could not record a write for read-your-writes");
        }
    }

    /// May the reads of `viewer` go to the replica? Without a replica: no. Anonymous viewers: yes. A viewer
    /// who wrote recently, or whose fence cannot be read: no.
    pub async fn replica_allowed_for(&self, viewer: Option<UserId>) -> bool {
        if !self.has_replica() {
            return false;
        }
        let Some(user) = viewer else { return true };
        match self
            .cache
            .cache()
            .get_many(&[self.cache.key(WROTE, user)])
            .await
        {
            Ok(values) => values.first().is_none_or(Option::is_none),
            Err(err) => {
                tracing::warn!(error = %err, %user, "could not read the write fence; reading the primary");
                false
            }
        }
    }

    /// The near cache of the board's reads, if configured (whole answers are kept on its terms).
    pub fn near_cache(&self) -> Option<Arc<crate::app::near_cache::NearCache>> {
        self.cache.near()
    }

    pub fn with_cache(&self, cache: CacheAside) -> Self {
        Self {
            categories: Arc::clone(&self.categories),
            posts: self.posts.clone(),
            search: self.search.clone(),
            comments: self.comments.clone(),
            votes: self.votes.clone(),
            moderation: Arc::clone(&self.moderation),
            saves: Arc::clone(&self.saves),
            watches: Arc::clone(&self.watches),
            clock: Arc::clone(&self.clock),
            cache,
            read_your_writes: self.read_your_writes,
            limiter: Arc::clone(&self.limiter),
            events: Arc::clone(&self.events),
            outbox: self.outbox.clone(),
        }
    }
}
