//! The board: categories, posts, comments and votes. Reads go through the cache; writes commit, then
//! delete the keys they touched.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod events;
mod newest;

use super::cache_aside::CacheAside;
use super::rate_limit::Limiter;
use crate::domain::board::{self as rules, PostFilter};
use crate::domain::page::{Page, PageRequest};
use crate::domain::{
    AppError, AppResult, BoardEvent, Category, CategoryId, CategoryTree, Comment, CommentId,
    EventKind, Post, PostId, PostKey, PostOrder, Revision, User, UserId,
};
use crate::ports::{
    CategoryChange, CategoryRepo, Clock, CommentRepo, Events, PostRepo, PostSearch, VoteRepo,
};
use crate::request;
use crate::telemetry::metrics;

const CATEGORIES: &str = "categories";
const POST: &str = "post";
const POST_REVISIONS: &str = "post_revisions";
const COMMENT: &str = "comment";
const COMMENT_REVISIONS: &str = "comment_revisions";
/// A search's `totalCount` is exact up to this many posts; beyond it answers this plus one ("more than").
pub const SEARCH_COUNT_CAP: i64 = 10_000;
/// The whole category tree is one cache entry.
const TREE_ID: &str = "all";

pub struct BoardService {
    categories: Arc<dyn CategoryRepo>,
    posts: Arc<dyn PostRepo>,
    search: Arc<dyn PostSearch>,
    comments: Arc<dyn CommentRepo>,
    votes: Arc<dyn VoteRepo>,
    clock: Arc<dyn Clock>,
    cache: CacheAside,
    replica: Option<Arc<ReadReplica>>,
    /// Edits and creations per user.
    limiter: Arc<Limiter>,
    /// Where committed writes are announced.
    events: Arc<dyn Events>,
}

/// The repositories the board reads and writes (on the primary).
pub struct BoardRepos {
    pub categories: Arc<dyn CategoryRepo>,
    pub posts: Arc<dyn PostRepo>,
    pub search: Arc<dyn PostSearch>,
    pub comments: Arc<dyn CommentRepo>,
    pub votes: Arc<dyn VoteRepo>,
}

/// The repositories on the read replica, for the uncached reads (lists, counts, vote lookups).
pub struct ReadReplica {
    posts: Arc<dyn PostRepo>,
    search: Arc<dyn PostSearch>,
    comments: Arc<dyn CommentRepo>,
    votes: Arc<dyn VoteRepo>,
    /// How long after a write its viewer's reads stay on the primary.
    read_your_writes: Duration,
    /// After a failure the replica is left alone until then, so an outage costs one timeout, not one per read.
    resting_until: std::sync::Mutex<Option<Instant>>,
}

/// How long a replica that failed is left alone.
const REPLICA_REST: Duration = Duration::from_secs(5);

impl ReadReplica {
    pub fn new(
        posts: Arc<dyn PostRepo>,
        search: Arc<dyn PostSearch>,
        comments: Arc<dyn CommentRepo>,
        votes: Arc<dyn VoteRepo>,
        read_your_writes: Duration,
    ) -> Self {
        Self {
            posts,
            search,
            comments,
            votes,
            read_your_writes,
            resting_until: std::sync::Mutex::new(None),
        }
    }

    fn available(&self) -> bool {
        self.resting_until
            .lock()
            .map(|until| until.is_none_or(|t| Instant::now() >= t))
            .unwrap_or(true)
    }

    fn failed(&self) {
        if let Ok(mut until) = self.resting_until.lock() {
            *until = Some(Instant::now() + REPLICA_REST);
        }
    }
}

/// Cache key kind of the read-your-writes fence: `<prefix>:v1:wrote:<user id>`.
const WROTE: &str = "wrote";

/// Runs `$call` with `$r` bound to the `$repo` repository of the replica when the request may read it
/// ([`request::replica_allowed`]), else of the primary. A replica that fails is answered by the primary, and then rests
/// for [`REPLICA_REST`].
macro_rules! routed {
    ($self:ident, $repo:ident, |$r:ident| $call:expr) => {{
        match $self
            .replica
            .as_ref()
            .filter(|_| request::replica_allowed())
        {
            Some(replica) if !replica.available() => {
                metrics::routed_read("fallback");
                let $r = &$self.$repo;
                $call.await
            }
            Some(replica) => {
                let $r = &replica.$repo;
                match $call.await {
                    Err(AppError::Unavailable(reason) | AppError::Internal(reason)) => {
                        tracing::warn!(%reason, rest_secs = REPLICA_REST.as_secs(), "the read replica failed; reading the primary");
                        replica.failed();
                        metrics::routed_read("fallback");
                        let $r = &$self.$repo;
                        $call.await
                    }
                    answer => {
                        metrics::routed_read("replica");
                        answer
                    }
                }
            }
            None => {
                if $self.replica.is_some() {
                    metrics::routed_read("primary");
                }
                let $r = &$self.$repo;
                $call.await
            }
        }
    }};
}

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
    ) -> Self {
        let BoardRepos {
            categories,
            posts,
            search,
            comments,
            votes,
        } = repos;
        Self {
            categories,
            posts,
            search,
            comments,
            votes,
            clock,
            cache,
            replica: None,
            limiter,
            events,
        }
    }

    /// Counts an edit by `actor`; `RATE_LIMITED` past the per-user limit.
    async fn reserve_edit(&self, actor: &User) -> AppResult<()> {
        self.limiter.reserve_edit(actor.id, self.clock.now()).await
    }

    /// Counts a new post or comment by `actor`; `RATE_LIMITED` past the per-user limit.
    async fn reserve_create(&self, actor: &User) -> AppResult<()> {
        self.limiter
            .reserve_create(actor.id, self.clock.now())
            .await
    }

    /// The same service with its uncached reads routed to `replica` where the request allows it.
    pub fn with_replica(self, replica: ReadReplica) -> Self {
        Self {
            replica: Some(Arc::new(replica)),
            ..self
        }
    }

    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// Keeps `viewer`'s reads on the primary for the next `read_your_writes_secs`, on every process sharing
    /// the cache. A no-op without a replica.
    pub async fn record_write(&self, viewer: UserId) {
        let Some(replica) = &self.replica else { return };
        let entry = [(
            self.cache.key(WROTE, viewer),
            "1".to_owned(),
            replica.read_your_writes,
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
        if self.replica.is_none() {
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
            posts: Arc::clone(&self.posts),
            search: Arc::clone(&self.search),
            comments: Arc::clone(&self.comments),
            votes: Arc::clone(&self.votes),
            clock: Arc::clone(&self.clock),
            cache,
            replica: self.replica.clone(),
            limiter: Arc::clone(&self.limiter),
            events: Arc::clone(&self.events),
        }
    }

    // ---- reads -------------------------------------------------------------------------------------------

    pub async fn category_tree(&self) -> AppResult<CategoryTree> {
        let repo = Arc::clone(&self.categories);
        let mut found = self
            .cache
            .load(CATEGORIES, &[TREE_ID], |_| async move {
                let categories = repo.all().await?;
                Ok(vec![(TREE_ID, CategoryTree { categories })])
            })
            .await?;
        Ok(found.remove(TREE_ID).unwrap_or_default())
    }

    pub async fn posts_by_ids(&self, ids: &[PostId]) -> AppResult<HashMap<PostId, Post>> {
        let repo = Arc::clone(&self.posts);
        self.cache
            .load(POST, ids, |misses| async move {
                Ok(repo
                    .by_ids(&misses)
                    .await?
                    .into_iter()
                    .map(|p| (p.id, p))
                    .collect())
            })
            .await
    }

    pub async fn comments_by_ids(
        &self,
        ids: &[CommentId],
    ) -> AppResult<HashMap<CommentId, Comment>> {
        let repo = Arc::clone(&self.comments);
        self.cache
            .load(COMMENT, ids, |misses| async move {
                Ok(repo
                    .by_ids(&misses)
                    .await?
                    .into_iter()
                    .map(|c| (c.id, c))
                    .collect())
            })
            .await
    }

    pub async fn post_revisions(
        &self,
        ids: &[PostId],
    ) -> AppResult<HashMap<PostId, Vec<Revision>>> {
        let repo = Arc::clone(&self.posts);
        self.cache
            .load(POST_REVISIONS, ids, |misses| async move {
                Ok(group_revisions(repo.revisions(&misses).await?))
            })
            .await
    }

    pub async fn comment_revisions(
        &self,
        ids: &[CommentId],
    ) -> AppResult<HashMap<CommentId, Vec<Revision>>> {
        let repo = Arc::clone(&self.comments);
        self.cache
            .load(COMMENT_REVISIONS, ids, |misses| async move {
                Ok(group_revisions(repo.revisions(&misses).await?))
            })
            .await
    }

    /// The filter of a post list: a category means that category and all its descendants.
    pub async fn post_filter(
        &self,
        category: Option<CategoryId>,
        author: Option<UserId>,
        search: Option<&str>,
    ) -> AppResult<PostFilter> {
        let search = search.map(rules::search_term).transpose()?;
        let category_ids = match category {
            None => None,
            Some(id) => Some(self.category_tree().await?.with_descendants(id)),
        };
        Ok(PostFilter {
            category_ids,
            author_id: author,
            search,
        })
    }

    pub async fn list_posts(
        &self,
        filter: &PostFilter,
        order: PostOrder,
        page: &PageRequest<PostKey>,
    ) -> AppResult<Page<PostKey>> {
        if let Some(first) = self.newest_first_page(filter, order, page).await? {
            return Ok(first);
        }
        if filter.search.is_some() {
            return routed!(self, search, |r| r.page(filter, order, page));
        }
        routed!(self, posts, |r| r.list(filter, order, page))
    }

    /// From counters, or for a search exact up to [`SEARCH_COUNT_CAP`] (beyond: `SEARCH_COUNT_CAP + 1`).
    pub async fn count_posts(&self, filter: &PostFilter) -> AppResult<i64> {
        if let Some(total) = self.newest_total(filter).await? {
            return Ok(total);
        }
        if filter.search.is_some() {
            return routed!(self, search, |r| r.count(filter, SEARCH_COUNT_CAP));
        }
        routed!(self, posts, |r| r.count(filter))
    }

    pub async fn comment_pages(
        &self,
        posts: &[PostId],
        page: &PageRequest<i64>,
    ) -> AppResult<HashMap<PostId, Page<CommentId>>> {
        Ok(routed!(self, comments, |r| r.pages_for_posts(posts, page))?
            .into_iter()
            .collect())
    }

    pub async fn author_comments(
        &self,
        author: UserId,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<CommentId>> {
        routed!(self, comments, |r| r.page_for_author(author, page))
    }

    pub async fn count_author_comments(&self, author: UserId) -> AppResult<i64> {
        routed!(self, comments, |r| r.count_for_author(author))
    }

    pub async fn voted_posts(&self, user: UserId, posts: &[PostId]) -> AppResult<HashSet<PostId>> {
        Ok(routed!(self, votes, |r| r.voted_posts(user, posts))?
            .into_iter()
            .collect())
    }

    pub async fn voted_comments(
        &self,
        user: UserId,
        comments: &[CommentId],
    ) -> AppResult<HashSet<CommentId>> {
        Ok(routed!(self, votes, |r| r.voted_comments(user, comments))?
            .into_iter()
            .collect())
    }

    async fn post(&self, id: PostId) -> AppResult<Post> {
        self.posts_by_ids(&[id])
            .await?
            .remove(&id)
            .ok_or_else(|| AppError::NotFound("no such post".into()))
    }

    async fn live_post(&self, id: PostId) -> AppResult<Post> {
        self.post(id).await.and_then(|p| {
            if p.is_active {
                Ok(p)
            } else {
                Err(AppError::NotFound("no such post".into()))
            }
        })
    }

    async fn comment(&self, id: CommentId) -> AppResult<Comment> {
        self.comments_by_ids(&[id])
            .await?
            .remove(&id)
            .ok_or_else(|| AppError::NotFound("no such comment".into()))
            .and_then(|c| {
                if c.is_active {
                    Ok(c)
                } else {
                    Err(AppError::NotFound("no such comment".into()))
                }
            })
    }

    // ---- invalidation ------------------------------------------------------------------------------------

    async fn forget_post(&self, id: PostId, revisions: bool) {
        let mut keys = vec![self.cache.key(POST, id)];
        if revisions {
            keys.push(self.cache.key(POST_REVISIONS, id));
        }
        self.cache.invalidate(&keys).await;
    }

    async fn forget_comment(&self, comment: CommentId, post: Option<PostId>, revisions: bool) {
        let mut keys = vec![self.cache.key(COMMENT, comment)];
        if revisions {
            keys.push(self.cache.key(COMMENT_REVISIONS, comment));
        }
        if let Some(post) = post {
            keys.push(self.cache.key(POST, post));
        }
        self.cache.invalidate(&keys).await;
    }

    async fn forget_categories(&self) {
        // First, while the cached tree still names every category the change touched.
        self.forget_all_newest().await;
        self.cache
            .invalidate(&[self.cache.key(CATEGORIES, TREE_ID)])
            .await;
    }

    // ---- posts -------------------------------------------------------------------------------------------

    pub async fn create_post(
        &self,
        actor: &User,
        category: CategoryId,
        title: &str,
        content: &str,
    ) -> AppResult<Post> {
        require_member(actor)?;
        let title = rules::post_title(title)?;
        let content = rules::post_content(content)?;
        if self.category_tree().await?.get(category).is_none() {
            return Err(AppError::invalid("categoryId", "no such category"));
        }
        self.reserve_create(actor).await?;
        let id = self
            .posts
            .create(actor.id, category, &title, &content, self.clock.now())
            .await?;
        // A read of this id before it existed may have been remembered as absent.
        self.forget_post(id, true).await;
        self.forget_newest(category).await;
        let created = self.post(id).await;
        // After the read above refilled the cache: subscribers resolving the event hit it.
        self.announce(BoardEvent::post(EventKind::PostCreated, id, Some(category)))
            .await;
        created
    }

    /// Appends a new version; only the author may.
    pub async fn update_post(
        &self,
        actor: &User,
        id: PostId,
        title: &str,
        content: &str,
    ) -> AppResult<Post> {
        require_member(actor)?;
        let title = rules::post_title(title)?;
        let content = rules::post_content(content)?;
        let post = self.live_post(id).await?;
        if !rules::may_edit(actor, post.author_id, post.is_active) {
            return Err(AppError::Forbidden(
                "only the author may edit a post".into(),
            ));
        }
        self.reserve_edit(actor).await?;
        self.posts
            .append_version(id, &title, &content, self.clock.now())
            .await?;
        self.forget_post(id, true).await;
        let edited = self.post(id).await;
        self.announce(BoardEvent::post(
            EventKind::PostEdited,
            id,
            Some(post.category_id),
        ))
        .await;
        edited
    }

    /// Soft delete by the author or an admin.
    pub async fn delete_post(&self, actor: &User, id: PostId) -> AppResult<PostId> {
        require_member(actor)?;
        let post = self.live_post(id).await?;
        if !rules::may_delete(actor, post.author_id, post.is_active) {
            return Err(AppError::Forbidden(
                "only the author or an admin may delete a post".into(),
            ));
        }
        self.posts.deactivate(id).await?;
        self.forget_post(id, false).await;
        self.forget_newest(post.category_id).await;
        self.announce(BoardEvent::post(
            EventKind::PostDeleted,
            id,
            Some(post.category_id),
        ))
        .await;
        Ok(id)
    }

    // ---- comments ----------------------------------------------------------------------------------------

    pub async fn create_comment(
        &self,
        actor: &User,
        post: PostId,
        content: &str,
    ) -> AppResult<Comment> {
        require_member(actor)?;
        let content = rules::comment_content(content)?;
        self.reserve_create(actor).await?;
        let id = self
            .comments
            .create(post, actor.id, &content, self.clock.now())
            .await?;
        self.forget_comment(id, Some(post), true).await;
        let created = self.comment(id).await;
        self.announce(BoardEvent::comment(EventKind::CommentCreated, post, id))
            .await;
        created
    }

    pub async fn update_comment(
        &self,
        actor: &User,
        id: CommentId,
        content: &str,
    ) -> AppResult<Comment> {
        require_member(actor)?;
        let content = rules::comment_content(content)?;
        let comment = self.comment(id).await?;
        if !rules::may_edit(actor, comment.author_id, comment.is_active) {
            return Err(AppError::Forbidden(
                "only the author may edit a comment".into(),
            ));
        }
        self.reserve_edit(actor).await?;
        self.comments
            .append_version(id, &content, self.clock.now())
            .await?;
        self.forget_comment(id, None, true).await;
        let edited = self.comment(id).await;
        self.announce(BoardEvent::comment(
            EventKind::CommentEdited,
            comment.post_id,
            id,
        ))
        .await;
        edited
    }

    pub async fn delete_comment(&self, actor: &User, id: CommentId) -> AppResult<CommentId> {
        require_member(actor)?;
        let comment = self.comment(id).await?;
        if !rules::may_delete(actor, comment.author_id, comment.is_active) {
            return Err(AppError::Forbidden(
                "only the author or an admin may delete a comment".into(),
            ));
        }
        self.comments.deactivate(id).await?;
        self.forget_comment(id, Some(comment.post_id), false).await;
        self.announce(BoardEvent::comment(
            EventKind::CommentDeleted,
            comment.post_id,
            id,
        ))
        .await;
        Ok(id)
    }

    // ---- votes -------------------------------------------------------------------------------------------

    pub async fn vote_post(&self, actor: &User, post: PostId, up: bool) -> AppResult<Post> {
        require_member(actor)?;
        let changed = if up {
            self.votes.vote_post(actor.id, post).await?
        } else {
            self.votes.unvote_post(actor.id, post).await?
        };
        if changed {
            self.forget_post(post, false).await;
        }
        let voted = self.post(post).await;
        if changed {
            self.announce(BoardEvent::post(EventKind::PostVoted, post, None))
                .await;
        }
        voted
    }

    pub async fn vote_comment(
        &self,
        actor: &User,
        comment: CommentId,
        up: bool,
    ) -> AppResult<Comment> {
        require_member(actor)?;
        let changed = if up {
            self.votes.vote_comment(actor.id, comment).await?
        } else {
            self.votes.unvote_comment(actor.id, comment).await?
        };
        if changed {
            self.forget_comment(comment, None, false).await;
        }
        let voted = self.comment(comment).await;
        if changed && let Ok(voted) = &voted {
            self.announce(BoardEvent::comment(
                EventKind::CommentVoted,
                voted.post_id,
                comment,
            ))
            .await;
        }
        voted
    }

    // ---- categories (admin) ------------------------------------------------------------------------------

    pub async fn create_category(
        &self,
        actor: &User,
        name: &str,
        parent: Option<CategoryId>,
    ) -> AppResult<Category> {
        require_admin(actor)?;
        let name = rules::category_name(name)?;
        let id = self.categories.create(&name, parent).await?;
        self.forget_categories().await;
        self.category(id).await
    }

    /// Renames and/or moves a category (`parent: Some(None)` makes it a root). Tiers below follow.
    pub async fn update_category(
        &self,
        actor: &User,
        id: CategoryId,
        name: Option<&str>,
        parent: Option<Option<CategoryId>>,
    ) -> AppResult<Category> {
        require_admin(actor)?;
        let name = name.map(rules::category_name).transpose()?;
        let change = CategoryChange { name, parent };
        self.categories.update(id, change).await?;
        self.forget_categories().await;
        self.category(id).await
    }

    pub async fn delete_category(&self, actor: &User, id: CategoryId) -> AppResult<CategoryId> {
        require_admin(actor)?;
        self.categories.delete(id).await?;
        self.forget_categories().await;
        Ok(id)
    }

    async fn category(&self, id: CategoryId) -> AppResult<Category> {
        self.category_tree()
            .await?
            .get(id)
            .cloned()
            .ok_or_else(|| AppError::NotFound("no such category".into()))
    }
}
