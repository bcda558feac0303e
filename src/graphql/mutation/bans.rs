//! Category bans: `banFromCategory`, `unbanFromCategory` (moderators of the category, admins).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::graphql::context::ContextExt;
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;
use crate::graphql::types::ban::CategoryBanNode;
use crate::graphql::types::datetime::DateTime;

/// A member to ban from a category and its descendants.
#[derive(InputObject)]
pub struct BanFromCategoryInput {
    /// The category.
    pub category_id: ID,
    /// The member (not an admin, not yourself).
    pub user_id: ID,
    /// Why: up to 500 characters.
    pub reason: Option<String>,
    /// When the ban ends by itself (in the future); absent: until lifted.
    pub until: Option<DateTime>,
}

/// A ban to lift.
#[derive(InputObject)]
pub struct UnbanFromCategoryInput {
    /// The category.
    pub category_id: ID,
    /// The banned member.
    pub user_id: ID,
}

/// The result of `banFromCategory`.
#[derive(SimpleObject)]
pub struct BanFromCategoryPayload {
    /// The ban in force.
    pub ban: CategoryBanNode,
}

/// The result of `unbanFromCategory`.
#[derive(SimpleObject)]
pub struct UnbanFromCategoryPayload {
    /// Whether a ban in force was lifted.
    pub success: bool,
}

#[derive(Default)]
pub struct BanMutations;

#[Object]
impl BanMutations {
    /// A moderator of the category (or an admin) bans a member from creating posts, comments and votes there
    /// and in its descendants; banning again replaces the reason and end. Admins cannot be banned.
    async fn ban_from_category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The category, the member, why and until when.")]
        input: BanFromCategoryInput,
    ) -> GqlResult<BanFromCategoryPayload> {
        let actor = ctx.actor()?;
        let category = ids::decode_category("categoryId", &input.category_id).gql()?;
        let user = ids::decode_user("userId", &input.user_id).gql()?;
        let ban = ctx
            .services()?
            .trust
            .ban_from_category(
                actor,
                category,
                user,
                input.reason.as_deref(),
                input.until.map(|u| u.0),
            )
            .await
            .gql()?;
        Ok(BanFromCategoryPayload {
            ban: CategoryBanNode(ban),
        })
    }

    /// A moderator of the category (or an admin) lifts a ban.
    async fn unban_from_category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The category and the member.")] input: UnbanFromCategoryInput,
    ) -> GqlResult<UnbanFromCategoryPayload> {
        let actor = ctx.actor()?;
        let category = ids::decode_category("categoryId", &input.category_id).gql()?;
        let user = ids::decode_user("userId", &input.user_id).gql()?;
        let success = ctx
            .services()?
            .trust
            .unban_from_category(actor, category, user)
            .await
            .gql()?;
        Ok(UnbanFromCategoryPayload { success })
    }
}
