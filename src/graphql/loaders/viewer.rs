//! The viewer's own facts as loader keys: votes, saves, watches and moderator appointments. The viewer is
//! part of every key, so a resolver names one only after reading the viewer through the request context.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::{BoardLoader, counted};
use crate::domain::moderation::appointed_above;
use crate::domain::{AppError, CategoryId, CommentId, PostId, UserId};

/// Whether the viewer voted for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewerVoted<T>(pub UserId, pub T);

/// Whether the viewer saved this post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewerSaved(pub UserId, pub PostId);

/// Whether the viewer watches it (a post or a category).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewerWatching<T>(pub UserId, pub T);

/// Whether the viewer was appointed moderator of this category or of one above it (admins are decided
/// before asking).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewerModerates(pub UserId, pub CategoryId);

/// The items of viewer-keyed keys, by viewer (one viewer per request, but a key names its own).
fn by_viewer<K: Copy, T: Copy>(
    keys: &[K],
    split: impl Fn(K) -> (UserId, T),
) -> HashMap<UserId, Vec<T>> {
    let mut by: HashMap<UserId, Vec<T>> = HashMap::new();
    for key in keys {
        let (viewer, item) = split(*key);
        by.entry(viewer).or_default().push(item);
    }
    by
}

impl Loader<ViewerModerates> for BoardLoader {
    type Value = bool;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[ViewerModerates],
    ) -> Result<HashMap<ViewerModerates, bool>, AppError> {
        let tree = counted(
            &self.request,
            "ViewerModerates",
            keys.len(),
            self.board.category_tree(),
        )
        .await?;
        Ok(keys
            .iter()
            .map(|k| (*k, appointed_above(&tree, k.1, k.0)))
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
        let mut found = HashMap::with_capacity(keys.len());
        for (viewer, ids) in by_viewer(keys, |k| (k.0, k.1)) {
            let voted = counted(
                &self.request,
                "ViewerVotedPost",
                ids.len(),
                self.board.voted_posts(viewer, &ids),
            )
            .await?;
            found.extend(
                ids.into_iter()
                    .map(|id| (ViewerVoted(viewer, id), voted.contains(&id))),
            );
        }
        Ok(found)
    }
}

impl Loader<ViewerVoted<CommentId>> for BoardLoader {
    type Value = bool;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[ViewerVoted<CommentId>],
    ) -> Result<HashMap<ViewerVoted<CommentId>, bool>, AppError> {
        let mut found = HashMap::with_capacity(keys.len());
        for (viewer, ids) in by_viewer(keys, |k| (k.0, k.1)) {
            let voted = counted(
                &self.request,
                "ViewerVotedComment",
                ids.len(),
                self.board.voted_comments(viewer, &ids),
            )
            .await?;
            found.extend(
                ids.into_iter()
                    .map(|id| (ViewerVoted(viewer, id), voted.contains(&id))),
            );
        }
        Ok(found)
    }
}

impl Loader<ViewerSaved> for BoardLoader {
    type Value = bool;
    type Error = AppError;

    async fn load(&self, keys: &[ViewerSaved]) -> Result<HashMap<ViewerSaved, bool>, AppError> {
        let mut found = HashMap::with_capacity(keys.len());
        for (viewer, ids) in by_viewer(keys, |k| (k.0, k.1)) {
            let saved = counted(
                &self.request,
                "ViewerSaved",
                ids.len(),
                self.board.saved_posts(viewer, &ids),
            )
            .await?;
            found.extend(
                ids.into_iter()
                    .map(|id| (ViewerSaved(viewer, id), saved.contains(&id))),
            );
        }
        Ok(found)
    }
}

impl Loader<ViewerWatching<PostId>> for BoardLoader {
    type Value = bool;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[ViewerWatching<PostId>],
    ) -> Result<HashMap<ViewerWatching<PostId>, bool>, AppError> {
        let mut found = HashMap::with_capacity(keys.len());
        for (viewer, ids) in by_viewer(keys, |k| (k.0, k.1)) {
            let watched = counted(
                &self.request,
                "ViewerWatchingPost",
                ids.len(),
                self.board.watched_posts(viewer, &ids),
            )
            .await?;
            found.extend(
                ids.into_iter()
                    .map(|id| (ViewerWatching(viewer, id), watched.contains(&id))),
            );
        }
        Ok(found)
    }
}

impl Loader<ViewerWatching<CategoryId>> for BoardLoader {
    type Value = bool;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[ViewerWatching<CategoryId>],
    ) -> Result<HashMap<ViewerWatching<CategoryId>, bool>, AppError> {
        let mut found = HashMap::with_capacity(keys.len());
        for (viewer, ids) in by_viewer(keys, |k| (k.0, k.1)) {
            let watched = counted(
                &self.request,
                "ViewerWatchingCategory",
                ids.len(),
                self.board.watched_categories(viewer, &ids),
            )
            .await?;
            found.extend(
                ids.into_iter()
                    .map(|id| (ViewerWatching(viewer, id), watched.contains(&id))),
            );
        }
        Ok(found)
    }
}
