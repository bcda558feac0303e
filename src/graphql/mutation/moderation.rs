//! Moderation: moderators (admin), removal and restoration, locks and pins (moderators of the category).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::domain::AppError;
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;
use crate::graphql::types::{CategoryNode, CommentNode, Node, PostNode};

/// Appoints or dismisses a moderator of a category (and so of every category below it).
#[derive(InputObject)]
pub struct SetCategoryModeratorInput {
    /// The category.
    pub category_id: ID,
    /// The member to appoint or dismiss.
    pub user_id: ID,
    /// True: appoint; false: dismiss.
    pub moderator: bool,
}

/// The result of `setCategoryModerator`.
#[derive(SimpleObject)]
pub struct SetCategoryModeratorPayload {
    /// The category with its moderators.
    pub category: CategoryNode,
}

/// A post or comment to remove.
#[derive(InputObject)]
pub struct RemoveContentInput {
    /// The id of a post or a comment.
    pub subject_id: ID,
    /// Why (1–500 characters): its author and the moderators see it, and the public log shows it.
    pub reason: String,
}

/// A removed post or comment to restore.
#[derive(InputObject)]
pub struct RestoreContentInput {
    /// The id of a post or a comment.
    pub subject_id: ID,
}

/// The result of `removeContent`.
#[derive(SimpleObject)]
pub struct RemoveContentPayload {
    /// The post or comment, as the moderator sees it (`moderation.removed: true`).
    pub subject: Node,
}

/// The result of `restoreContent`.
#[derive(SimpleObject)]
pub struct RestoreContentPayload {
    /// The post or comment, visible again.
    pub subject: Node,
}

/// Locks or unlocks a post.
#[derive(InputObject)]
pub struct LockPostInput {
    /// The post.
    pub post_id: ID,
    /// True: no new comments; false: comments again.
    pub locked: bool,
    /// Why (at most 500 characters); shown with the refusal of a new comment and in the log.
    pub reason: Option<String>,
}

/// The result of `lockPost`.
#[derive(SimpleObject)]
pub struct LockPostPayload {
    /// The post.
    pub post: PostNode,
}

/// Pins or unpins a post to its category.
#[derive(InputObject)]
pub struct PinPostInput {
    /// The post.
    pub post_id: ID,
    /// True: pin (at most 5 per category); false: unpin.
    pub pinned: bool,
}

/// The result of `pinPost`.
#[derive(SimpleObject)]
pub struct PinPostPayload {
    /// The post.
    pub post: PostNode,
}

/// A post or comment named by a global id.
enum Subject {
    Post(crate::domain::PostId),
    Comment(crate::domain::CommentId),
}

fn subject(id: &ID) -> GqlResult<Subject> {
    let (kind, row) = ids::decode("subjectId", id).gql()?;
    match kind.as_str() {
        crate::domain::PostId::KIND => Ok(Subject::Post(crate::domain::PostId(row))),
        crate::domain::CommentId::KIND => Ok(Subject::Comment(crate::domain::CommentId(row))),
        _ => Err(AppError::invalid(
            "subjectId",
            "is not the id of a post or a comment",
        ))
        .gql(),
    }
}

#[derive(Default)]
pub struct ModerationMutations;

#[Object]
impl ModerationMutations {
    /// Admin only. Appoints or dismisses a moderator of a category; a moderator's rights cover the
    /// category and every category below it. Repeating it changes nothing.
    async fn set_category_moderator(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The category, the member, and whether they moderate it.")]
        input: SetCategoryModeratorInput,
    ) -> GqlResult<SetCategoryModeratorPayload> {
        let actor = ctx.actor()?;
        let category = ids::decode_category("categoryId", &input.category_id).gql()?;
        let user = ids::decode_user("userId", &input.user_id).gql()?;
        let category = ctx
            .services()?
            .board
            .set_category_moderator(actor, category, user, input.moderator)
            .await
            .gql()?;
        Ok(SetCategoryModeratorPayload {
            category: CategoryNode(category),
        })
    }

    /// Moderators of the content's category (and admins). Hides a post or comment from everyone but its
    /// author, the moderators and admins, as a delete hides it from lists, search and counts. Removing
    /// removed content changes nothing.
    async fn remove_content(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The post or comment and why.")] input: RemoveContentInput,
    ) -> GqlResult<RemoveContentPayload> {
        let actor = ctx.actor()?;
        let board = &ctx.services()?.board;
        let subject = match subject(&input.subject_id)? {
            Subject::Post(id) => Node::Post(PostNode(
                board.remove_post(actor, id, &input.reason).await.gql()?,
            )),
            Subject::Comment(id) => Node::Comment(CommentNode(
                board.remove_comment(actor, id, &input.reason).await.gql()?,
            )),
        };
        Ok(RemoveContentPayload { subject })
    }

    /// Moderators of the content's category (and admins). Undoes a removal (never an author's delete).
    async fn restore_content(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The removed post or comment.")] input: RestoreContentInput,
    ) -> GqlResult<RestoreContentPayload> {
        let actor = ctx.actor()?;
        let board = &ctx.services()?.board;
        let subject = match subject(&input.subject_id)? {
            Subject::Post(id) => Node::Post(PostNode(board.restore_post(actor, id).await.gql()?)),
            Subject::Comment(id) => {
                Node::Comment(CommentNode(board.restore_comment(actor, id).await.gql()?))
            }
        };
        Ok(RestoreContentPayload { subject })
    }

    /// Moderators of the post's category (and admins). A locked post refuses new comments with
    /// `FORBIDDEN` (and the reason in `extensions.reason`); votes still count.
    async fn lock_post(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The post, whether it is locked, and why.")] input: LockPostInput,
    ) -> GqlResult<LockPostPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_post("postId", &input.post_id).gql()?;
        let post = ctx
            .services()?
            .board
            .lock_post(actor, id, input.locked, input.reason.as_deref())
            .await
            .gql()?;
        Ok(LockPostPayload {
            post: PostNode(post),
        })
    }

    /// Moderators of the post's category (and admins). A category holds at most 5 pinned posts; pinning
    /// a sixth is `CONFLICT` until one is unpinned.
    async fn pin_post(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The post and whether it is pinned.")] input: PinPostInput,
    ) -> GqlResult<PinPostPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_post("postId", &input.post_id).gql()?;
        let post = ctx
            .services()?
            .board
            .pin_post(actor, id, input.pinned)
            .await
            .gql()?;
        Ok(PinPostPayload {
            post: PostNode(post),
        })
    }
}
