//! A member's saved posts and watches: private to them, written on the primary, each write deleting the
//! viewer's own read-model entry before it answers (docs/watching.md, docs/read-cache.md).

use super::{BoardService, require_member};
use crate::domain::page::{Page, PageRequest};
use crate::domain::{AppError, AppResult, Category, CategoryId, Post, PostId, User, UserId};
use crate::ports::SavedPost;

impl BoardService {
    /// Saves (`saved: true`) or unsaves the post; idempotent. `NotFound` for a post that is not live.
    pub async fn save_post(&self, actor: &User, id: PostId, saved: bool) -> AppResult<Post> {
        require_member(actor)?;
        self.live_post(id).await?;
        let changed = if saved {
            self.saves.save(actor.id, id, self.clock.now()).await?
        } else {
            self.saves.unsave(actor.id, id).await?
        };
        if changed {
            self.forget_saved(id, actor.id).await;
        }
        self.post(id).await
    }

    /// Records the viewer's explicit choice to watch the post or not; idempotent. `NotFound` for a post
    /// that is not live.
    pub async fn watch_post(&self, actor: &User, id: PostId, watching: bool) -> AppResult<Post> {
        require_member(actor)?;
        self.live_post(id).await?;
        self.watches
            .watch_post(actor.id, id, watching, self.clock.now())
            .await?;
        self.forget_watching_post(id, actor.id).await;
        self.post(id).await
    }

    /// Starts or stops watching the category; idempotent. `NotFound` for an unknown category.
    pub async fn watch_category(
        &self,
        actor: &User,
        id: CategoryId,
        watching: bool,
    ) -> AppResult<Category> {
        require_member(actor)?;
        let category = self
            .category_tree()
            .await?
            .get(id)
            .cloned()
            .ok_or_else(|| AppError::NotFound("no such category".into()))?;
        self.watches
            .watch_category(actor.id, id, watching, self.clock.now())
            .await?;
        self.forget_watching_category(id, actor.id).await;
        Ok(category)
    }

    /// A page of the user's saved live posts, newest save first (from the primary: the list is the viewer's
    /// own, read right after they changed it).
    pub async fn saved_page(
        &self,
        user: UserId,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<SavedPost>> {
        self.saves.page(user, page).await
    }

    /// How many live posts the user saved.
    pub async fn count_saved(&self, user: UserId) -> AppResult<i64> {
        self.saves.count(user).await
    }
}
