//! Posts, comments, votes, and (admin) categories.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};

use crate::domain::{CategoryName, CommentContent, PostContent, PostTitle};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;
use crate::graphql::types::{CategoryNode, CommentNode, PostNode};

/// A new post in a category.
#[derive(InputObject)]
pub struct CreatePostInput {
    /// The category to post in.
    pub category_id: ID,
    /// 1–200 characters after trimming.
    pub title: String,
    /// 1–40 000 characters.
    pub content: String,
}

/// A new version of a post (the earlier ones stay in `revisions`).
#[derive(InputObject)]
pub struct UpdatePostInput {
    /// The post to edit.
    pub post_id: ID,
    /// The new title: 1–200 characters after trimming.
    pub title: String,
    /// The new content: 1–40 000 characters.
    pub content: String,
}

/// The post to delete.
#[derive(InputObject)]
pub struct DeletePostInput {
    /// The post to delete.
    pub post_id: ID,
}

/// A new comment on a post.
#[derive(InputObject)]
pub struct CreateCommentInput {
    /// The post to comment on.
    pub post_id: ID,
    /// 1–10 000 characters.
    pub content: String,
    /// A reply: the comment of the same post it answers (live: neither deleted nor removed). A reply to a
    /// comment at depth 8 goes beside it, under that comment's parent (docs/threads.md).
    pub parent_id: Option<ID>,
}

/// A new version of a comment.
#[derive(InputObject)]
pub struct UpdateCommentInput {
    /// The comment to edit.
    pub comment_id: ID,
    /// The new content: 1–10 000 characters.
    pub content: String,
}

/// The comment to delete.
#[derive(InputObject)]
pub struct DeleteCommentInput {
    /// The comment to delete.
    pub comment_id: ID,
}

/// The post to vote for, or to take the vote back from.
#[derive(InputObject)]
pub struct VotePostInput {
    /// The post.
    pub post_id: ID,
}

/// The comment to vote for, or to take the vote back from.
#[derive(InputObject)]
pub struct VoteCommentInput {
    /// The comment.
    pub comment_id: ID,
}

/// A new category.
#[derive(InputObject)]
pub struct CreateCategoryInput {
    /// 1–50 characters, unique among siblings.
    pub name: String,
    /// Absent or null: a root category.
    pub parent_id: Option<ID>,
}

/// A rename or a move of a category.
#[derive(InputObject)]
pub struct UpdateCategoryInput {
    /// The category to change.
    pub category_id: ID,
    /// The new name (1–50 characters, unique among siblings); absent keeps the name.
    pub name: Option<String>,
    /// Absent: stays where it is. Null: becomes a root. An id: moves below that category (tiers follow).
    pub parent_id: MaybeUndefined<ID>,
}

/// The category to delete.
#[derive(InputObject)]
pub struct DeleteCategoryInput {
    /// The category to delete.
    pub category_id: ID,
}

/// The result of `createPost`.
#[derive(SimpleObject)]
pub struct CreatePostPayload {
    /// The new post.
    pub post: PostNode,
}

/// The result of `updatePost`.
#[derive(SimpleObject)]
pub struct UpdatePostPayload {
    /// The post with its new version.
    pub post: PostNode,
}

/// The result of `deletePost`.
#[derive(SimpleObject)]
pub struct DeletePostPayload {
    /// The id of the deleted post.
    pub deleted_id: ID,
}

/// The result of `createComment`.
#[derive(SimpleObject)]
pub struct CreateCommentPayload {
    /// The new comment.
    pub comment: CommentNode,
}

/// The result of `updateComment`.
#[derive(SimpleObject)]
pub struct UpdateCommentPayload {
    /// The comment with its new version.
    pub comment: CommentNode,
}

/// The result of `deleteComment`.
#[derive(SimpleObject)]
pub struct DeleteCommentPayload {
    /// The id of the deleted comment.
    pub deleted_id: ID,
}

/// The result of `votePost` and `unvotePost`.
#[derive(SimpleObject)]
pub struct VotePostPayload {
    /// The post, with its vote count after the change.
    pub post: PostNode,
}

/// The result of `voteComment` and `unvoteComment`.
#[derive(SimpleObject)]
pub struct VoteCommentPayload {
    /// The comment, with its vote count after the change.
    pub comment: CommentNode,
}

/// The result of `createCategory`.
#[derive(SimpleObject)]
pub struct CreateCategoryPayload {
    /// The new category.
    pub category: CategoryNode,
}

/// The result of `updateCategory`.
#[derive(SimpleObject)]
pub struct UpdateCategoryPayload {
    /// The category after the change.
    pub category: CategoryNode,
}

/// The result of `deleteCategory`.
#[derive(SimpleObject)]
pub struct DeleteCategoryPayload {
    /// The id of the deleted category.
    pub deleted_id: ID,
}

/// A post's title and content, checked in that order.
fn post_text(title: &str, content: &str) -> GqlResult<(PostTitle, PostContent)> {
    Ok((
        PostTitle::parse(title).gql()?,
        PostContent::parse(content).gql()?,
    ))
}

#[derive(Default)]
pub struct PostMutations;

#[Object]
impl PostMutations {
    /// Members only. Writes a post (version 0) in a category.
    async fn create_post(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The category, title and content.")] input: CreatePostInput,
    ) -> GqlResult<CreatePostPayload> {
        let actor = ctx.actor()?;
        let category = ids::decode_category("categoryId", &input.category_id).gql()?;
        let (title, content) = post_text(&input.title, &input.content)?;
        let post = ctx
            .services()?
            .board
            .create_post(actor, category, &title, &content)
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
        #[graphql(desc = "The post and its new title and content.")] input: UpdatePostInput,
    ) -> GqlResult<UpdatePostPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_post("postId", &input.post_id).gql()?;
        let (title, content) = post_text(&input.title, &input.content)?;
        let post = ctx
            .services()?
            .board
            .update_post(actor, id, &title, &content)
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
        #[graphql(desc = "The post to delete.")] input: DeletePostInput,
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
    /// Members only. Comments on a visible post, or replies to one of its comments (`parentId`).
    async fn create_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The post and the comment.")] input: CreateCommentInput,
    ) -> GqlResult<CreateCommentPayload> {
        let actor = ctx.actor()?;
        let post = ids::decode_post("postId", &input.post_id).gql()?;
        let parent = input
            .parent_id
            .as_ref()
            .map(|id| ids::decode_comment("parentId", id))
            .transpose()
            .gql()?;
        let content = CommentContent::parse(&input.content).gql()?;
        let comment = ctx
            .services()?
            .board
            .create_comment(actor, post, parent, &content)
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
        #[graphql(desc = "The comment and its new content.")] input: UpdateCommentInput,
    ) -> GqlResult<UpdateCommentPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_comment("commentId", &input.comment_id).gql()?;
        let content = CommentContent::parse(&input.content).gql()?;
        let comment = ctx
            .services()?
            .board
            .update_comment(actor, id, &content)
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
        #[graphql(desc = "The comment to delete.")] input: DeleteCommentInput,
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
        #[graphql(desc = "The post to vote for.")] input: VotePostInput,
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
        #[graphql(desc = "The post to take the vote back from.")] input: VotePostInput,
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

    /// Idempotent: voting twice counts once.
    async fn vote_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The comment to vote for.")] input: VoteCommentInput,
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

    /// Idempotent.
    async fn unvote_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The comment to take the vote back from.")] input: VoteCommentInput,
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
        #[graphql(desc = "The name and the parent.")] input: CreateCategoryInput,
    ) -> GqlResult<CreateCategoryPayload> {
        let actor = ctx.actor()?;
        let parent = input
            .parent_id
            .map(|id| ids::decode_category("parentId", &id))
            .transpose()
            .gql()?;
        let name = CategoryName::parse(&input.name).gql()?;
        let category = ctx
            .services()?
            .board
            .create_category(actor, &name, parent)
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
        #[graphql(desc = "The category and what changes.")] input: UpdateCategoryInput,
    ) -> GqlResult<UpdateCategoryPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_category("categoryId", &input.category_id).gql()?;
        let parent = match input.parent_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(p) => Some(Some(ids::decode_category("parentId", &p).gql()?)),
        };
        let name = input
            .name
            .as_deref()
            .map(CategoryName::parse)
            .transpose()
            .gql()?;
        let category = ctx
            .services()?
            .board
            .update_category(actor, id, name.as_ref(), parent)
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
        #[graphql(desc = "The category to delete.")] input: DeleteCategoryInput,
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
