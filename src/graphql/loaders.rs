//! Per-request DataLoaders: everything read by id within one request is batched (one call per loader per
//! tick) and remembered for the rest of the request. Batches run inside the request's task (see
//! [`super::batches`]); the loaders carry the request's state too, so its round trips and read route hold
//! wherever a batch is polled. Each batch is a span (`load <Loader>`) while spans are exported: its round
//! trips hang off it. docs/request-context.md, docs/traces.md.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use tracing::Instrument;

use super::batches::RequestBatches;
use crate::app::{AccountService, BoardService};
use crate::domain::page::{Page, PageRequest};
use crate::domain::{
    AppError, Category, CategoryId, Comment, CommentId, ModAction, ModActionId, Post, PostId,
    Revision, User, UserId,
};
use crate::request::{self, RequestState};
use crate::telemetry::traces;

/// Runs a batch of `keys` keys of `loader` as part of the request that asked for it. [`super::batches::drive`]
/// polls batches inside the request's task, where its state is entered already; a batch polled by another
/// task would count nothing, so each batch re-enters the state here (and nowhere else). While spans are
/// exported the batch is one, a child of the request's (or of the event it delivers), its round trips below.
async fn counted<F: Future>(
    request: &Arc<RequestState>,
    loader: &'static str,
    keys: usize,
    work: F,
) -> F::Output {
    let span = traces::loader_batch(loader, keys, || request.trace_parent());
    let work = request::within(span.clone(), work.instrument(tracing::debug_span!("batch")));
    let done = request.run(work).await;
    if let Some(span) = &span {
        traces::end(span);
    }
    done
}

pub struct UserLoader {
    accounts: Arc<AccountService>,
    request: Arc<RequestState>,
}

impl Loader<UserId> for UserLoader {
    type Value = User;
    type Error = AppError;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, User>, AppError> {
        counted(
            &self.request,
            "User",
            keys.len(),
            self.accounts.users_by_ids(keys),
        )
        .await
    }
}

/// Categories, posts, comments, their versions, and a viewer's votes, saves and watches (the viewer is in
/// the key: resolvers get it only from the request context's accessors, which record that they did).
pub struct BoardLoader {
    board: Arc<BoardService>,
    request: Arc<RequestState>,
}

/// All versions of a post or comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RevisionsOf<T>(pub T);

/// One page of a post's comments (or of its top-level comments only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommentPage {
    pub post: PostId,
    pub page: PageRequest<i64>,
    pub top_level_only: bool,
}

/// One page of a comment's direct replies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplyPage {
    pub parent: CommentId,
    pub page: PageRequest<i64>,
}

impl Loader<CategoryId> for BoardLoader {
    type Value = Category;
    type Error = AppError;

    async fn load(&self, keys: &[CategoryId]) -> Result<HashMap<CategoryId, Category>, AppError> {
        let tree = counted(
            &self.request,
            "Category",
            keys.len(),
            self.board.category_tree(),
        )
        .await?;
        Ok(keys
            .iter()
            .filter_map(|id| tree.get(*id).map(|c| (*id, c.clone())))
            .collect())
    }
}

impl Loader<ModActionId> for BoardLoader {
    type Value = ModAction;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[ModActionId],
    ) -> Result<HashMap<ModActionId, ModAction>, AppError> {
        counted(
            &self.request,
            "ModAction",
            keys.len(),
            self.board.mod_actions_by_ids(keys),
        )
        .await
    }
}

impl Loader<PostId> for BoardLoader {
    type Value = Post;
    type Error = AppError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, Post>, AppError> {
        counted(
            &self.request,
            "Post",
            keys.len(),
            self.board.posts_by_ids(keys),
        )
        .await
    }
}

impl Loader<CommentId> for BoardLoader {
    type Value = Comment;
    type Error = AppError;

    async fn load(&self, keys: &[CommentId]) -> Result<HashMap<CommentId, Comment>, AppError> {
        counted(
            &self.request,
            "Comment",
            keys.len(),
            self.board.comments_by_ids(keys),
        )
        .await
    }
}

impl Loader<RevisionsOf<PostId>> for BoardLoader {
    type Value = Vec<Revision>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[RevisionsOf<PostId>],
    ) -> Result<HashMap<RevisionsOf<PostId>, Vec<Revision>>, AppError> {
        let ids: Vec<PostId> = keys.iter().map(|k| k.0).collect();
        let found = counted(
            &self.request,
            "PostRevisions",
            ids.len(),
            self.board.post_revisions(&ids),
        )
        .await?;
        Ok(found
            .into_iter()
            .map(|(id, r)| (RevisionsOf(id), r))
            .collect())
    }
}

impl Loader<RevisionsOf<CommentId>> for BoardLoader {
    type Value = Vec<Revision>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[RevisionsOf<CommentId>],
    ) -> Result<HashMap<RevisionsOf<CommentId>, Vec<Revision>>, AppError> {
        let ids: Vec<CommentId> = keys.iter().map(|k| k.0).collect();
        let found = counted(
            &self.request,
            "CommentRevisions",
            ids.len(),
            self.board.comment_revisions(&ids),
        )
        .await?;
        Ok(found
            .into_iter()
            .map(|(id, r)| (RevisionsOf(id), r))
            .collect())
    }
}

impl Loader<CommentPage> for BoardLoader {
    type Value = Page<CommentId>;
    type Error = AppError;

    /// Keys asking for the same page of different posts share one query.
    async fn load(
        &self,
        keys: &[CommentPage],
    ) -> Result<HashMap<CommentPage, Page<CommentId>>, AppError> {
        let mut by_page: HashMap<(&PageRequest<i64>, bool), Vec<PostId>> = HashMap::new();
        for key in keys {
            by_page
                .entry((&key.page, key.top_level_only))
                .or_default()
                .push(key.post);
        }
        let work = async {
            let mut found = HashMap::with_capacity(keys.len());
            for ((page, top_level_only), posts) in by_page {
                let pages = self
                    .board
                    .comment_pages(&posts, page, top_level_only)
                    .await?;
                for (post, comments) in pages {
                    found.insert(
                        CommentPage {
                            post,
                            page: page.clone(),
                            top_level_only,
                        },
                        comments,
                    );
                }
            }
            Ok(found)
        };
        counted(&self.request, "CommentPage", keys.len(), work).await
    }
}

impl Loader<ReplyPage> for BoardLoader {
    type Value = Page<CommentId>;
    type Error = AppError;

    /// Keys asking for the same page of different comments share one query: a page listing many
    /// comments with `replies(first: 3)` costs one round trip for all their replies.
    async fn load(
        &self,
        keys: &[ReplyPage],
    ) -> Result<HashMap<ReplyPage, Page<CommentId>>, AppError> {
        let mut by_page: HashMap<&PageRequest<i64>, Vec<CommentId>> = HashMap::new();
        for key in keys {
            by_page.entry(&key.page).or_default().push(key.parent);
        }
        let work = async {
            let mut found = HashMap::with_capacity(keys.len());
            for (page, parents) in by_page {
                let pages = self.board.reply_pages(&parents, page).await?;
                for (parent, replies) in pages {
                    let key = ReplyPage {
                        parent,
                        page: page.clone(),
                    };
                    found.insert(key, replies);
                }
            }
            Ok(found)
        };
        counted(&self.request, "ReplyPage", keys.len(), work).await
    }
}

/// The request's user loader (authentication reads the actor through it).
pub type UsersLoader = DataLoader<UserLoader, HashMapCache>;

pub struct Loaders {
    pub users: UsersLoader,
    pub board: DataLoader<BoardLoader, HashMapCache>,
}

impl Loaders {
    /// The user loader alone: enough to authenticate a request.
    pub fn users(
        accounts: Arc<AccountService>,
        batches: &Arc<RequestBatches>,
        request: &Arc<RequestState>,
    ) -> UsersLoader {
        DataLoader::with_cache(
            UserLoader {
                accounts,
                request: Arc::clone(request),
            },
            batches.spawner(),
            HashMapCache::default(),
        )
        .delay(Duration::ZERO)
    }

    /// Forgets everything loaded so far: a subscription's next event reads afresh (through the caches).
    pub fn forget_all(&self) {
        self.users.clear::<UserId>();
        self.board.clear::<CategoryId>();
        self.board.clear::<PostId>();
        self.board.clear::<CommentId>();
        self.board.clear::<RevisionsOf<PostId>>();
        self.board.clear::<RevisionsOf<CommentId>>();
        self.board.clear::<ViewerVoted<PostId>>();
        self.board.clear::<ViewerVoted<CommentId>>();
        self.board.clear::<ViewerSaved>();
        self.board.clear::<ViewerWatching<PostId>>();
        self.board.clear::<ViewerWatching<CategoryId>>();
        self.board.clear::<CommentPage>();
        self.board.clear::<ReplyPage>();
        self.board.clear::<ViewerModerates>();
        self.board.clear::<ModActionId>();
    }

    /// Every loader of a request (see [`super::RequestContext::new`]).
    pub(super) fn new(
        users: UsersLoader,
        board: Arc<BoardService>,
        batches: &Arc<RequestBatches>,
        request: &Arc<RequestState>,
    ) -> Self {
        Self {
            users,
            board: DataLoader::with_cache(
                BoardLoader {
                    board,
                    request: Arc::clone(request),
                },
                batches.spawner(),
                HashMapCache::default(),
            )
            .delay(Duration::ZERO),
        }
    }
}

mod viewer;

pub use viewer::{ViewerModerates, ViewerSaved, ViewerVoted, ViewerWatching};

#[cfg(test)]
mod tests;
