//! The per-viewer read model: what a viewer's own fields need (whether they voted for a post or a comment),
//! one cache entry per viewer and item, filled for a whole page in one batch and deleted by the viewer's
//! own vote before it answers. docs/read-cache.md#the-viewers-read-model.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use super::{BoardService, VOTED_COMMENT, VOTED_POST};
use crate::domain::{AppResult, CommentId, PostId, UserId};

/// A viewer's relation to one item; its cache id is `<viewer>:<item>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct ViewerOf<T> {
    pub viewer: UserId,
    pub item: T,
}

impl<T: fmt::Display> fmt::Display for ViewerOf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.viewer, self.item)
    }
}

/// Every key of `items` for `viewer`.
fn keys<T: Copy>(viewer: UserId, items: &[T]) -> Vec<ViewerOf<T>> {
    items
        .iter()
        .map(|&item| ViewerOf { viewer, item })
        .collect()
}

/// Answers `true` or `false` for every asked key (never "absent"), from the set of those voted.
fn answers<T: Copy + Eq + std::hash::Hash>(
    asked: Vec<ViewerOf<T>>,
    voted: &[T],
) -> Vec<(ViewerOf<T>, bool)> {
    let voted: HashSet<T> = voted.iter().copied().collect();
    asked
        .into_iter()
        .map(|key| (key, voted.contains(&key.item)))
        .collect()
}

impl BoardService {
    /// Which of `posts` the viewer voted for: from the cache when warm, the misses in one query on the
    /// primary (a fill must not come from a lagging replica).
    pub async fn voted_posts(
        &self,
        viewer: UserId,
        posts: &[PostId],
    ) -> AppResult<HashSet<PostId>> {
        let votes = Arc::clone(self.votes.primary());
        self.voted(VOTED_POST, viewer, posts, |ids| async move {
            votes.voted_posts(viewer, &ids).await
        })
        .await
    }

    /// Which of `comments` the viewer voted for, as [`Self::voted_posts`].
    pub async fn voted_comments(
        &self,
        viewer: UserId,
        comments: &[CommentId],
    ) -> AppResult<HashSet<CommentId>> {
        let votes = Arc::clone(self.votes.primary());
        self.voted(VOTED_COMMENT, viewer, comments, |ids| async move {
            votes.voted_comments(viewer, &ids).await
        })
        .await
    }

    /// The items of `items` the viewer voted for, through the cache entries of `kind`; `fetch` answers
    /// which of the missing ones were voted.
    async fn voted<T, F, Fut>(
        &self,
        kind: &str,
        viewer: UserId,
        items: &[T],
        fetch: F,
    ) -> AppResult<HashSet<T>>
    where
        T: Copy + Eq + std::hash::Hash + fmt::Display,
        F: FnOnce(Vec<T>) -> Fut,
        Fut: std::future::Future<Output = AppResult<Vec<T>>>,
    {
        let found = self
            .cache
            .load(kind, &keys(viewer, items), |misses| async move {
                let ids: Vec<T> = misses.iter().map(|k| k.item).collect();
                let voted = fetch(ids).await?;
                Ok(answers(misses, &voted))
            })
            .await?;
        Ok(found
            .into_iter()
            .filter_map(|(key, voted)| voted.then_some(key.item))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asked_key_is_answered_and_ids_name_viewer_and_item() {
        let asked = keys(UserId(7), &[PostId(1), PostId(2), PostId(3)]);
        assert_eq!(asked[1].to_string(), "7:2");
        let answered = answers(asked, &[PostId(2)]);
        assert_eq!(
            answered
                .iter()
                .map(|(k, voted)| (k.item.0, *voted))
                .collect::<Vec<_>>(),
            vec![(1, false), (2, true), (3, false)]
        );
    }
}
