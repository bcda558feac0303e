//! Who may moderate where, and who may see removed content: the rule is
//! [`crate::domain::moderation::may_moderate`] (a moderator's rights cover the category and its
//! descendants; admins moderate everywhere); the moderators come with the cached category tree.

use super::super::BoardService;
use crate::domain::moderation::{self as rules, Access};
use crate::domain::{AppError, AppResult, CategoryId, PostId, User};

impl BoardService {
    /// May `viewer` moderate `category`? Anonymous viewers: no. Admins: yes, without a read.
    pub async fn may_moderate(
        &self,
        viewer: Option<&User>,
        category: CategoryId,
    ) -> AppResult<bool> {
        let Some(viewer) = viewer else {
            return Ok(false);
        };
        if viewer.is_admin() {
            return Ok(viewer.may_act());
        }
        let tree = self.category_tree().await?;
        Ok(rules::may_moderate(viewer, category, &tree))
    }

    /// `FORBIDDEN` unless `actor` may moderate `category`.
    pub async fn require_moderator(&self, actor: &User, category: CategoryId) -> AppResult<()> {
        if self.may_moderate(Some(actor), category).await? {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "only a moderator of this category (or an admin) may do this".into(),
            ))
        }
    }

    /// Whether `viewer` may see content of this access (docs/moderation.md): the read of the tree (and,
    /// for a comment, of its post) happens only for removed content the viewer did not write.
    pub async fn may_see(&self, viewer: Option<&User>, access: Access) -> AppResult<bool> {
        match access {
            Access::Visible => Ok(true),
            Access::Hidden => Ok(false),
            Access::ModeratorsOf(category) => self.may_moderate(viewer, category).await,
            Access::ModeratorsOfPost(post) => {
                let Some(category) = self.category_of(post).await? else {
                    return Ok(false);
                };
                self.may_moderate(viewer, category).await
            }
        }
    }

    /// The category of a post (deleted ones too); `None` when there is no such post.
    pub(super) async fn category_of(&self, post: PostId) -> AppResult<Option<CategoryId>> {
        Ok(self
            .posts_by_ids(&[post])
            .await?
            .remove(&post)
            .map(|p| p.category_id))
    }
}
