//! What a write forgets: the cache keys of what it changed, deleted after commit.

use super::comment_head::{COMMENT_HEAD, TOP_COMMENT_HEAD};
use super::viewer::ViewerOf;
use super::{
    BoardService, CATEGORIES, COMMENT, COMMENT_REVISIONS, POST, POST_REVISIONS, TREE_ID,
    VOTED_COMMENT, VOTED_POST,
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

    /// `post`: the comment came, left or came back (its post's counts and first comments changed, and the
    /// reply count of `parent`, the comment it hangs under); none for an edit.
    pub(super) async fn forget_comment(
        &self,
        comment: CommentId,
        post: Option<(PostId, Option<CommentId>)>,
        revisions: bool,
    ) {
        let mut keys = vec![self.cache.key(COMMENT, comment)];
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

    /// A vote changed: the post's counter and the voter's own entry, in one deletion.
    pub(super) async fn forget_post_vote(&self, post: PostId, viewer: UserId) {
        let keys = [
            self.cache.key(POST, post),
            self.cache.key(VOTED_POST, ViewerOf { viewer, item: post }),
        ];
        self.cache.invalidate(&keys).await;
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
        self.cache.invalidate(&keys).await;
    }

    pub(super) async fn forget_categories(&self) {
        // First, while the cached tree still names every category the change touched.
        self.forget_all_newest().await;
        self.cache
            .invalidate(&[self.cache.key(CATEGORIES, TREE_ID)])
            .await;
    }
}
