//! Per-request DataLoaders: everything read by id within one request is batched (one call per loader per
//! tick) and remembered for the rest of the request. Batches run inside the request's task (see
//! [`super::batches`]); the loaders still carry the request's round-trip counters, so they count correctly
//! wherever they are polled.

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
    AppError, Category, CategoryId, Comment, CommentId, Post, PostId, Revision, User, UserId,
};
use crate::request::{self, RequestState};

/// Runs a batch as part of the request that asked for it.
async fn counted<F: Future>(trips: &Option<Arc<RequestState>>, work: F) -> F::Output {
    let work = work.instrument(tracing::debug_span!("batch"));
    match trips {
        Some(state) => state.run(work).await,
        None => work.await,
    }
}

pub struct UserLoader {
    accounts: Arc<AccountService>,
    trips: Option<Arc<RequestState>>,
}

impl Loader<UserId> for UserLoader {
    type Value = User;
    type Error = AppError;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, User>, AppError> {
        counted(&self.trips, self.accounts.users_by_ids(keys)).await
    }
}

/// Categories, posts, comments, their versions, and the viewer's votes.
pub struct BoardLoader {
    board: Arc<BoardService>,
    viewer: Option<UserId>,
    trips: Option<Arc<RequestState>>,
}

/// All versions of a post or comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RevisionsOf<T>(pub T);

/// Whether the viewer voted for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewerVoted<T>(pub T);

/// One page of a post's comments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommentPage {
    pub post: PostId,
    pub page: PageRequest<i64>,
}

impl Loader<CategoryId> for BoardLoader {
    type Value = Category;
    type Error = AppError;

    async fn load(&self, keys: &[CategoryId]) -> Result<HashMap<CategoryId, Category>, AppError> {
        let tree = counted(&self.trips, self.board.category_tree()).await?;
        Ok(keys
            .iter()
            .filter_map(|id| tree.get(*id).map(|c| (*id, c.clone())))
            .collect())
    }
}

impl Loader<PostId> for BoardLoader {
    type Value = Post;
    type Error = AppError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, Post>, AppError> {
        counted(&self.trips, self.board.posts_by_ids(keys)).await
    }
}

impl Loader<CommentId> for BoardLoader {
    type Value = Comment;
    type Error = AppError;

    async fn load(&self, keys: &[CommentId]) -> Result<HashMap<CommentId, Comment>, AppError> {
        counted(&self.trips, self.board.comments_by_ids(keys)).await
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
        let found = counted(&self.trips, self.board.post_revisions(&ids)).await?;
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
        let found = counted(&self.trips, self.board.comment_revisions(&ids)).await?;
        Ok(found
            .into_iter()
            .map(|(id, r)| (RevisionsOf(id), r))
            .collect())
    }
}

impl Loader<ViewerVoted<PostId>> for BoardLoader {
    type Value = bool;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[ViewerVoted<PostId>],
    ) -> Result<HashMap<ViewerVoted<PostId>, bool>, AppError> {
        let Some(viewer) = self.viewer else {
            return Ok(HashMap::new());
        };
        let ids: Vec<PostId> = keys.iter().map(|k| k.0).collect();
        let voted = counted(&self.trips, self.board.voted_posts(viewer, &ids)).await?;
        Ok(keys.iter().map(|k| (*k, voted.contains(&k.0))).collect())
    }
}

impl Loader<ViewerVoted<CommentId>> for BoardLoader {
    type Value = bool;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[ViewerVoted<CommentId>],
    ) -> Result<HashMap<ViewerVoted<CommentId>, bool>, AppError> {
        let Some(viewer) = self.viewer else {
            return Ok(HashMap::new());
        };
        let ids: Vec<CommentId> = keys.iter().map(|k| k.0).collect();
        let voted = counted(&self.trips, self.board.voted_comments(viewer, &ids)).await?;
        Ok(keys.iter().map(|k| (*k, voted.contains(&k.0))).collect())
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
        let mut by_page: HashMap<&PageRequest<i64>, Vec<PostId>> = HashMap::new();
        for key in keys {
            by_page.entry(&key.page).or_default().push(key.post);
        }
        let mut found = HashMap::with_capacity(keys.len());
        for (page, posts) in by_page {
            let pages = counted(&self.trips, self.board.comment_pages(&posts, page)).await?;
            for (post, comments) in pages {
                found.insert(
                    CommentPage {
                        post,
                        page: page.clone(),
                    },
                    comments,
                );
            }
        }
        Ok(found)
    }
}

pub struct Loaders {
    pub users: DataLoader<UserLoader, HashMapCache>,
    pub board: DataLoader<BoardLoader, HashMapCache>,
}

impl Loaders {
    /// The user loader alone: enough to authenticate a request. Call inside the request's round-trip scope.
    pub fn users(
        accounts: Arc<AccountService>,
        batches: &Arc<RequestBatches>,
    ) -> DataLoader<UserLoader, HashMapCache> {
        let trips = request::current();
        DataLoader::with_cache(
            UserLoader { accounts, trips },
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
        self.board.clear::<CommentPage>();
    }

    /// Every loader of a request whose viewer is known.
    pub fn new(
        users: DataLoader<UserLoader, HashMapCache>,
        board: Arc<BoardService>,
        viewer: Option<UserId>,
        batches: &Arc<RequestBatches>,
    ) -> Self {
        let trips = request::current();
        Self {
            users,
            board: DataLoader::with_cache(
                BoardLoader {
                    board,
                    viewer,
                    trips,
                },
                batches.spawner(),
                HashMapCache::default(),
            )
            .delay(Duration::ZERO),
        }
    }
}
