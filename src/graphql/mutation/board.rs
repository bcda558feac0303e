//! Posts, comments, votes, and (admin) categories.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};

use crate::graphql::context::ContextExt;
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;
use crate::graphql::types::{CategoryNode, CommentNode, PostNode};

#[derive(InputObject)]
pub struct CreatePostInput {
    pub category_id: ID,
    /// 1–200 characters after trimming.
    pub title: String,
    /// 1–40 000 characters.
    pub content: String,
}

#[derive(InputObject)]
pub struct UpdatePostInput {
    pub post_id: ID,
    pub title: String,
    pub content: String,
}

#[derive(InputObject)]
pub struct DeletePostInput {
    pub post_id: ID,
}

#[derive(InputObject)]
pub struct CreateCommentInput {
    pub post_id: ID,
    /// 1–10 000 characters.
    pub content: String,
}

#[derive(InputObject)]
pub struct UpdateCommentInput {
    pub comment_id: ID,
    pub content: String,
}

#[derive(InputObject)]
pub struct DeleteCommentInput {
    pub comment_id: ID,
}

#[derive(InputObject)]
pub struct VotePostInput {
    pub post_id: ID,
}

#[derive(InputObject)]
pub struct VoteCommentInput {
    pub comment_id: ID,
}

#[derive(InputObject)]
pub struct CreateCategoryInput {
    /// 1–50 characters, unique among siblings.
    pub name: String,
    /// Absent or null: a root category.
    pub parent_id: Option<ID>,
}

#[derive(InputObject)]
pub struct UpdateCategoryInput {
    pub category_id: ID,
    pub name: Option<String>,
    /// Absent: stays where it is. Null: becomes a root. An id: moves below that category (tiers follow).
    pub parent_id: MaybeUndefined<ID>,
}

#[derive(InputObject)]
pub struct DeleteCategoryInput {
    pub category_id: ID,
}

#[derive(SimpleObject)]
pub struct CreatePostPayload {
    pub post: PostNode,
}

#[derive(SimpleObject)]
pub struct UpdatePostPayload {
    pub post: PostNode,
}

#[derive(SimpleObject)]
pub struct DeletePostPayload {
    pub deleted_id: ID,
}

#[derive(SimpleObject)]
pub struct CreateCommentPayload {
    pub comment: CommentNode,
}

#[derive(SimpleObject)]
pub struct UpdateCommentPayload {
    pub comment: CommentNode,
}

#[derive(SimpleObject)]
pub struct DeleteCommentPayload {
    pub deleted_id: ID,
}

#[derive(SimpleObject)]
pub struct VotePostPayload {
    pub post: PostNode,
}

#[derive(SimpleObject)]
pub struct VoteCommentPayload {
    pub comment: CommentNode,
}

#[derive(SimpleObject)]
pub struct CreateCategoryPayload {
    pub category: CategoryNode,
}

#[derive(SimpleObject)]
pub struct UpdateCategoryPayload {
    pub category: CategoryNode,
}

#[derive(SimpleObject)]
pub struct DeleteCategoryPayload {
    pub deleted_id: ID,
}

#[derive(Default)]
pub struct PostMutations;

#[Object]
impl PostMutations {
    async fn create_post(
        &self,
        ctx: &Context<'_>,
        input: CreatePostInput,
    ) -> GqlResult<CreatePostPayload> {
        let actor = ctx.actor()?;
        let category = ids::decode_category("categoryId", &input.category_id).gql()?;
        let post = ctx
            .services()?
            .board
            .create_post(actor, category, &input.title, &input.content)
            .await
            .gql()?;
        Ok(CreatePostPayload {
            post: PostNode(post),
        })
    }

    /// Author only. Appends a new version; earlier versions stay in `revisions`.
    async fn update_post(
        &self,
        ctx: &Context<'_>,
        input: UpdatePostInput,
    ) -> GqlResult<UpdatePostPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_post("postId", &input.post_id).gql()?;
        let post = ctx
            .services()?
            .board
            .update_post(actor, id, &input.title, &input.content)
            .await
            .gql()?;
        Ok(UpdatePostPayload {
            post: PostNode(post),
        })
    }

    /// Author or admin. A soft delete: the post disappears from lists.
    async fn delete_post(
        &self,
        ctx: &Context<'_>,
        input: DeletePostInput,
    ) -> GqlResult<DeletePostPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_post("postId", &input.post_id).gql()?;
        let deleted = ctx.services()?.board.delete_post(actor, id).await.gql()?;
        Ok(DeletePostPayload {
            deleted_id: ids::post(deleted),
        })
    }
}

#[derive(Default)]
pub struct CommentMutations;

#[Object]
impl CommentMutations {
    async fn create_comment(
        &self,
        ctx: &Context<'_>,
        input: CreateCommentInput,
    ) -> GqlResult<CreateCommentPayload> {
        let actor = ctx.actor()?;
        let post = ids::decode_post("postId", &input.post_id).gql()?;
        let comment = ctx
            .services()?
            .board
            .create_comment(actor, post, &input.content)
            .await
            .gql()?;
        Ok(CreateCommentPayload {
            comment: CommentNode(comment),
        })
    }

    /// Author only. Appends a new version.
    async fn update_comment(
        &self,
        ctx: &Context<'_>,
        input: UpdateCommentInput,
    ) -> GqlResult<UpdateCommentPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_comment("commentId", &input.comment_id).gql()?;
        let comment = ctx
            .services()?
            .board
            .update_comment(actor, id, &input.content)
            .await
            .gql()?;
        Ok(UpdateCommentPayload {
            comment: CommentNode(comment),
        })
    }

    /// Author or admin.
    async fn delete_comment(
        &self,
        ctx: &Context<'_>,
        input: DeleteCommentInput,
    ) -> GqlResult<DeleteCommentPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_comment("commentId", &input.comment_id).gql()?;
        let deleted = ctx
            .services()?
            .board
            .delete_comment(actor, id)
            .await
            .gql()?;
        Ok(DeleteCommentPayload {
            deleted_id: ids::comment(deleted),
        })
    }
}

#[derive(Default)]
pub struct VoteMutations;

#[Object]
impl VoteMutations {
    /// Idempotent: voting twice counts once.
    async fn vote_post(
        &self,
        ctx: &Context<'_>,
        input: VotePostInput,
    ) -> GqlResult<VotePostPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_post("postId", &input.post_id).gql()?;
        let post = ctx
            .services()?
            .board
            .vote_post(actor, id, true)
            .await
            .gql()?;
        Ok(VotePostPayload {
            post: PostNode(post),
        })
    }

    /// Idempotent.
    async fn unvote_post(
        &self,
        ctx: &Context<'_>,
        input: VotePostInput,
    ) -> GqlResult<VotePostPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_post("postId", &input.post_id).gql()?;
        let post = ctx
            .services()?
            .board
            .vote_post(actor, id, false)
            .await
            .gql()?;
        Ok(VotePostPayload {
            post: PostNode(post),
        })
    }

    async fn vote_comment(
        &self,
        ctx: &Context<'_>,
        input: VoteCommentInput,
    ) -> GqlResult<VoteCommentPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_comment("commentId", &input.comment_id).gql()?;
        let comment = ctx
            .services()?
            .board
            .vote_comment(actor, id, true)
            .await
            .gql()?;
        Ok(VoteCommentPayload {
            comment: CommentNode(comment),
        })
    }

    async fn unvote_comment(
        &self,
        ctx: &Context<'_>,
        input: VoteCommentInput,
    ) -> GqlResult<VoteCommentPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_comment("commentId", &input.comment_id).gql()?;
        let comment = ctx
            .services()?
            .board
            .vote_comment(actor, id, false)
            .await
            .gql()?;
        Ok(VoteCommentPayload {
            comment: CommentNode(comment),
        })
    }
}

#[derive(Default)]
pub struct CategoryMutations;

#[Object]
impl CategoryMutations {
    /// Admin only.
    async fn create_category(
        &self,
        ctx: &Context<'_>,
        input: CreateCategoryInput,
    ) -> GqlResult<CreateCategoryPayload> {
        let actor = ctx.actor()?;
        let parent = input
            .parent_id
            .map(|id| ids::decode_category("parentId", &id))
            .transpose()
            .gql()?;
        let category = ctx
            .services()?
            .board
            .create_category(actor, &input.name, parent)
            .await
            .gql()?;
        Ok(CreateCategoryPayload {
            category: CategoryNode(category),
        })
    }

    /// Admin only.
    async fn update_category(
        &self,
        ctx: &Context<'_>,
        input: UpdateCategoryInput,
    ) -> GqlResult<UpdateCategoryPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_category("categoryId", &input.category_id).gql()?;
        let parent = match input.parent_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(p) => Some(Some(ids::decode_category("parentId", &p).gql()?)),
        };
        let category = ctx
            .services()?
            .board
            .update_category(actor, id, input.name.as_deref(), parent)
            .await
            .gql()?;
        Ok(UpdateCategoryPayload {
            category: CategoryNode(category),
        })
    }

    /// Admin only. Refused while the category has subcategories or posts.
    async fn delete_category(
        &self,
        ctx: &Context<'_>,
        input: DeleteCategoryInput,
    ) -> GqlResult<DeleteCategoryPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_category("categoryId", &input.category_id).gql()?;
        let deleted = ctx
            .services()?
            .board
            .delete_category(actor, id)
            .await
            .gql()?;
        Ok(DeleteCategoryPayload {
            deleted_id: ids::category(deleted),
        })
    }
}
