//! The per-viewer read model: what a viewer's own fields need (whether they voted for a post or a comment,
//! saved or watch a post, watch a category), one cache entry per viewer and item, filled for a whole page in
//! one batch and deleted by the viewer's own vote, save or watch before it answers.
//! docs/read-cache.md#the-viewers-read-model.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use super::{
    BoardService, COMMENT, POST, SAVED_POST, VOTED_COMMENT, VOTED_POST, WATCHING_CATEGORY,
    WATCHING_POST,
};
use crate::domain::{AppResult, CategoryId, CommentId, PostId, UserId};

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

/// A cache entry one slot of a kept answer is read from (its counter, or a viewer's relation to an item).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotEntry {
    Post(PostId),
    Comment(CommentId),
    VotedPost(UserId, PostId),
    VotedComment(UserId, CommentId),
    SavedPost(UserId, PostId),
    WatchingPost(UserId, PostId),
    WatchingCategory(UserId, CategoryId),
}

/// Every key of `items` for `viewer`.
fn keys<T: Copy>(viewer: UserId, items: &[T]) -> Vec<ViewerOf<T>> {
    items
        .iter()
        .map(|&item| ViewerOf { viewer, item })
        .collect()
}

/// Answers `true` or `false` for every asked key (never "absent"), from the set of those that hold.
fn answers<T: Copy + Eq + std::hash::Hash>(
    asked: Vec<ViewerOf<T>>,
    holding: &[T],
) -> Vec<(ViewerOf<T>, bool)> {
    let holding: HashSet<T> = holding.iter().copied().collect();
    asked
        .into_iter()
        .map(|key| (key, holding.contains(&key.item)))
        .collect()
}

impl BoardService {
    /// The cache key of `entry`: the deletions of a write name it.
    pub fn entry_key(&self, entry: SlotEntry) -> String {
        fn of<T>(viewer: UserId, item: T) -> ViewerOf<T> {
            ViewerOf { viewer, item }
        }
        match entry {
            SlotEntry::Post(id) => self.cache.key(POST, id),
            SlotEntry::Comment(id) => self.cache.key(COMMENT, id),
            SlotEntry::VotedPost(viewer, id) => self.cache.key(VOTED_POST, of(viewer, id)),
            SlotEntry::VotedComment(viewer, id) => self.cache.key(VOTED_COMMENT, of(viewer, id)),
            SlotEntry::SavedPost(viewer, id) => self.cache.key(SAVED_POST, of(viewer, id)),
            SlotEntry::WatchingPost(viewer, id) => self.cache.key(WATCHING_POST, of(viewer, id)),
            SlotEntry::WatchingCategory(viewer, id) => {
                self.cache.key(WATCHING_CATEGORY, of(viewer, id))
            }
        }
    }

    /// Which of `posts` the viewer voted for: from the cache when warm, the misses in one query on the
    /// primary (a fill must not come from a lagging replica).
    pub async fn voted_posts(
        &self,
        viewer: UserId,
        posts: &[PostId],
    ) -> AppResult<HashSet<PostId>> {
        let votes = Arc::clone(self.votes.primary());
        self.viewer_set(VOTED_POST, viewer, posts, |ids| async move {
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
        self.viewer_set(VOTED_COMMENT, viewer, comments, |ids| async move {
            votes.voted_comments(viewer, &ids).await
        })
        .await
    }

    /// Which of `posts` the viewer saved, as [`Self::voted_posts`].
    pub async fn saved_posts(
        &self,
        viewer: UserId,
        posts: &[PostId],
    ) -> AppResult<HashSet<PostId>> {
        let saves = Arc::clone(&self.saves);
        self.viewer_set(SAVED_POST, viewer, posts, |ids| async move {
            saves.saved(viewer, &ids).await
        })
        .await
    }

    /// Which of `posts` the viewer watches, as [`Self::voted_posts`].
    pub async fn watched_posts(
        &self,
        viewer: UserId,
        posts: &[PostId],
    ) -> AppResult<HashSet<PostId>> {
        let watches = Arc::clone(&self.watches);
        self.viewer_set(WATCHING_POST, viewer, posts, |ids| async move {
            watches.watching_posts(viewer, &ids).await
        })
        .await
    }

    /// Which of `categories` the viewer watches, as [`Self::voted_posts`].
    pub async fn watched_categories(
        &self,
        viewer: UserId,
        categories: &[CategoryId],
    ) -> AppResult<HashSet<CategoryId>> {
        let watches = Arc::clone(&self.watches);
        self.viewer_set(WATCHING_CATEGORY, viewer, categories, |ids| async move {
            watches.watching_categories(viewer, &ids).await
        })
        .await
    }

    /// The items of `items` for which the viewer's relation `kind` holds, through the cache entries of
    /// `kind`; `fetch` answers for which of the missing ones it holds.
    async fn viewer_set<T, F, Fut>(
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
                let holding = fetch(ids).await?;
                Ok(answers(misses, &holding))
            })
            .await?;
        Ok(found
            .into_iter()
            .filter_map(|(key, holds)| holds.then_some(key.item))
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
