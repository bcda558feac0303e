//! What a write forgets: the cache keys of what it changed, deleted after commit.

use super::comment_head::{COMMENT_HEAD, TOP_COMMENT_HEAD};
use super::viewer::ViewerOf;
use super::{
    BoardService, CATEGORIES, COMMENT, COMMENT_REVISIONS, POST, POST_REVISIONS, SAVED_POST,
    TREE_ID, VOTED_COMMENT, VOTED_POST, WATCHING_CATEGORY, WATCHING_POST,
};
use crate::domain::{CategoryId, CommentId, PostId, UserId};

impl BoardService {
    pub(super) async fn forget_post(&self, id: PostId, revisions: bool) {
        let mut keys = vec![self.cache.key(POST, id)];
        if revisions {
            keys.push(self.cache.key(POST_REVISIONS, id));
        }
        self.cache.invalidate(&keys).await;
    }

    /// A post left the lists or came back (a delete, a removal, a restore): its entry and the lists that
    /// show it, with their totals.
    pub(super) async fn forget_post_listing(&self, id: PostId, category: CategoryId) {
        self.forget_post(id, false).await;
        self.forget_newest(category).await;
    }

    /// A new post: its entries (a read of this id before it existed may have been remembered as absent)
    /// and its author's watch of it, in one deletion.
    pub(super) async fn forget_new_post(&self, id: PostId, author: UserId) {
        let keys = [
            self.cache.key(POST, id),
            self.cache.key(POST_REVISIONS, id),
            self.cache.key(
                WATCHING_POST,
                ViewerOf {
                    viewer: author,
                    item: id,
                },
            ),
        ];
        self.cache.invalidate(&keys).await;
    }

    /// `post`: the comment came, left or came back (its post's counts and first comments changed, and the
    /// reply count of `parent`, the comment it hangs under); none for an edit.
    pub(super) async fn forget_comment(
        &self,
        comment: CommentId,
        post: Option<(PostId, Option<CommentId>)>,
        revisions: bool,
    ) {
        self.forget_comment_and(comment, post, revisions, None)
            .await;
    }

    /// As [`Self::forget_comment`], with one more key in the same deletion (a new comment: its author's
    /// watch of the post).
    pub(super) async fn forget_comment_and(
        &self,
        comment: CommentId,
        post: Option<(PostId, Option<CommentId>)>,
        revisions: bool,
        also: Option<String>,
    ) {
        let mut keys = vec![self.cache.key(COMMENT, comment)];
        keys.extend(also);
        if revisions {
            keys.push(self.cache.key(COMMENT_REVISIONS, comment));
        }
        if let Some((post, parent)) = post {
            keys.push(self.cache.key(POST, post));
            keys.push(self.cache.key(COMMENT_HEAD, post));
            keys.push(self.cache.key(TOP_COMMENT_HEAD, post));
            if let Some(parent) = parent {
                keys.push(self.cache.key(COMMENT, parent));
            }
        }
        self.cache.invalidate(&keys).await;
    }

    /// A vote changed: the post's counter and the voter's own entry, in one deletion. Answers show both only
    /// in slots (`voteCount`, `viewerHasVoted`), so kept templates stay (docs/read-cache.md#counters-in-slots).
    pub(super) async fn forget_post_vote(&self, post: PostId, viewer: UserId) {
        let keys = [
            self.cache.key(POST, post),
            self.cache.key(VOTED_POST, ViewerOf { viewer, item: post }),
        ];
        self.cache.invalidate_slot_values(&keys).await;
    }

    /// As [`Self::forget_post_vote`], for a comment.
    pub(super) async fn forget_comment_vote(&self, comment: CommentId, viewer: UserId) {
        let keys = [
            self.cache.key(COMMENT, comment),
            self.cache.key(
                VOTED_COMMENT,
                ViewerOf {
                    viewer,
                    item: comment,
                },
            ),
        ];
        self.cache.invalidate_slot_values(&keys).await;
    }

    /// The viewer saved or unsaved a post: only their own entry changed.
    pub(super) async fn forget_saved(&self, post: PostId, viewer: UserId) {
        let key = self.cache.key(SAVED_POST, ViewerOf { viewer, item: post });
        self.cache.invalidate(&[key]).await;
    }

    /// The key of the viewer's watch of a post.
    pub(super) fn watching_post_key(&self, post: PostId, viewer: UserId) -> String {
        self.cache
            .key(WATCHING_POST, ViewerOf { viewer, item: post })
    }

    /// The viewer started or stopped watching a post.
    pub(super) async fn forget_watching_post(&self, post: PostId, viewer: UserId) {
        let key = self.watching_post_key(post, viewer);
        self.cache.invalidate(&[key]).await;
    }

    /// The viewer started or stopped watching a category.
    pub(super) async fn forget_watching_category(&self, category: CategoryId, viewer: UserId) {
        let key = self.cache.key(
            WATCHING_CATEGORY,
            ViewerOf {
                viewer,
                item: category,
            },
        );
        self.cache.invalidate(&[key]).await;
    }

    pub(super) async fn forget_categories(&self) {
        // First, while the cached tree still names every category the change touched.
        self.forget_all_newest().await;
        self.cache
            .invalidate(&[self.cache.key(CATEGORIES, TREE_ID)])
            .await;
    }
}
