//! What a write forgets: the cache keys of what it changed, deleted after commit.

use super::{BoardService, CATEGORIES, COMMENT, COMMENT_REVISIONS, POST, POST_REVISIONS, TREE_ID};
use crate::domain::{CommentId, PostId};

impl BoardService {
    pub(super) async fn forget_post(&self, id: PostId, revisions: bool) {
        let mut keys = vec![self.cache.key(POST, id)];
        if revisions {
            keys.push(self.cache.key(POST_REVISIONS, id));
        }
        self.cache.invalidate(&keys).await;
    }

    pub(super) async fn forget_comment(
        &self,
        comment: CommentId,
        post: Option<PostId>,
        revisions: bool,
    ) {
        let mut keys = vec![self.cache.key(COMMENT, comment)];
        if revisions {
            keys.push(self.cache.key(COMMENT_REVISIONS, comment));
        }
        if let Some(post) = post {
            keys.push(self.cache.key(POST, post));
        }
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
