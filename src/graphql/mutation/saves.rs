//! Saved posts and watches: the signed-in member's own, idempotent (docs/watching.md).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::graphql::context::ContextExt;
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;
use crate::graphql::types::{CategoryNode, PostNode};

/// The post to save, or to unsave.
#[derive(InputObject)]
pub struct SavePostInput {
    /// The post.
    pub post_id: ID,
}

/// The post to start or stop watching.
#[derive(InputObject)]
pub struct WatchPostInput {
    /// The post.
    pub post_id: ID,
    /// True: watch it; false: stop watching it, also after later comments of your own.
    pub watching: bool,
}

/// The category to start or stop watching.
#[derive(InputObject)]
pub struct WatchCategoryInput {
    /// The category.
    pub category_id: ID,
    /// True: watch its new posts; false: stop.
    pub watching: bool,
}

/// The result of `savePost` and `unsavePost`.
#[derive(SimpleObject)]
pub struct SavePostPayload {
    /// The post, with `viewerHasSaved` after the change.
    pub post: PostNode,
}

/// The result of `watchPost`.
#[derive(SimpleObject)]
pub struct WatchPostPayload {
    /// The post, with `viewerIsWatching` after the change.
    pub post: PostNode,
}

/// The result of `watchCategory`.
#[derive(SimpleObject)]
pub struct WatchCategoryPayload {
    /// The category, with `viewerIsWatching` after the change.
    pub category: CategoryNode,
}

#[derive(Default)]
pub struct SaveMutations;

#[Object]
impl SaveMutations {
    /// Saves a post to the viewer's `savedPosts`. Idempotent: saving twice keeps one save.
    async fn save_post(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The post to save.")] input: SavePostInput,
    ) -> GqlResult<SavePostPayload> {
        save(ctx, &input.post_id, true).await
    }

    /// Takes a post out of the viewer's `savedPosts`. Idempotent.
    async fn unsave_post(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The post to unsave.")] input: SavePostInput,
    ) -> GqlResult<SavePostPayload> {
        save(ctx, &input.post_id, false).await
    }

    /// Starts or stops watching a post. Idempotent; an explicit stop outlasts later comments of your own.
    async fn watch_post(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The post and whether to watch it.")] input: WatchPostInput,
    ) -> GqlResult<WatchPostPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_post("postId", &input.post_id).gql()?;
        let post = ctx
            .services()?
            .board
            .watch_post(actor, id, input.watching)
            .await
            .gql()?;
        Ok(WatchPostPayload {
            post: PostNode(post),
        })
    }

    /// Starts or stops watching a category's new posts. Idempotent.
    async fn watch_category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The category and whether to watch it.")] input: WatchCategoryInput,
    ) -> GqlResult<WatchCategoryPayload> {
        let actor = ctx.actor()?;
        let id = ids::decode_category("categoryId", &input.category_id).gql()?;
        let category = ctx
            .services()?
            .board
            .watch_category(actor, id, input.watching)
            .await
            .gql()?;
        Ok(WatchCategoryPayload {
            category: CategoryNode(category),
        })
    }
}

async fn save(ctx: &Context<'_>, post: &ID, saved: bool) -> GqlResult<SavePostPayload> {
    let actor = ctx.actor()?;
    let id = ids::decode_post("postId", post).gql()?;
    let post = ctx
        .services()?
        .board
        .save_post(actor, id, saved)
        .await
        .gql()?;
    Ok(SavePostPayload {
        post: PostNode(post),
    })
}
