//! `CategoryBan`: a member banned from writing in a category and its descendants.

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Object};

use super::datetime::DateTime;
use super::pagination::{connection, encode_cursor, page_request};
use super::{CategoryNode, UserNode};
use crate::domain::CategoryId;
use crate::domain::bans::CategoryBan;
use crate::graphql::context::ContextExt;
use crate::graphql::cost::directives::Cost;
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::types::post::missing;

#[derive(Clone)]
pub struct CategoryBanNode(pub CategoryBan);

/// A member banned from creating posts, comments and votes in a category and its descendants.
#[Object(name = "CategoryBan")]
impl CategoryBanNode {
    /// The banned member.
    async fn user(&self, ctx: &Context<'_>) -> GqlResult<UserNode> {
        ctx.loaders()?
            .users
            .load_one(self.0.user_id)
            .await
            .gql()?
            .map(UserNode::new)
            .ok_or_else(|| missing("user", self.0.user_id))
    }

    /// The category (its descendants are covered too).
    async fn category(&self, ctx: &Context<'_>) -> GqlResult<CategoryNode> {
        ctx.loaders()?
            .board
            .load_one(self.0.category_id)
            .await
            .gql()?
            .map(CategoryNode)
            .ok_or_else(|| missing("category", self.0.category_id))
    }

    /// The moderator's reason; null when none was given.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// When the ban ends by itself; null: until lifted.
    async fn until(&self) -> Option<DateTime> {
        self.0.until.map(Into::into)
    }

    /// When the ban was made.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}

pub struct CategoryBanTotals {
    category: CategoryId,
}

#[Object]
impl CategoryBanTotals {
    /// The bans in force of the category (every page).
    #[graphql(directive = Cost::apply(1))]
    async fn total_count(&self, ctx: &Context<'_>) -> GqlResult<i64> {
        ctx.services()?
            .trust
            .count_category_bans(self.category)
            .await
            .gql()
    }
}

pub type CategoryBanConnection =
    Connection<String, CategoryBanNode, CategoryBanTotals, EmptyFields>;

/// `Category.bans`: the bans in force, newest first; `None` unless the viewer moderates the category.
pub async fn category_bans(
    ctx: &Context<'_>,
    category: CategoryId,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> GqlResult<Option<CategoryBanConnection>> {
    let request = page_request(first, after, last, before).gql()?;
    let actor = ctx.request()?.viewer();
    let Some(page) = ctx
        .services()?
        .trust
        .category_bans(actor, category, &request)
        .await
        .gql()?
    else {
        return Ok(None);
    };
    Ok(Some(connection(
        page,
        CategoryBanTotals { category },
        |ban| encode_cursor(ban.id),
        |ban| Some(CategoryBanNode(ban.clone())),
    )))
}
