//! `User`, `UserState`, `Role` and the login history.

use crate::graphql::types::datetime::DateTime;
use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Enum, ID, Object, SimpleObject};

use super::comment::{CommentConnection, author_comments};
use super::notification::{NotificationConnection, notification_connection};
use super::pagination::{encode_cursor, page_request};
use super::post::{PostConnection, PostOrderValue, post_connection, saved_posts};
use crate::domain::{LoginEvent, PostFilter, PostOrder, Role, User, UserId};
use crate::graphql::context::ContextExt;
use crate::graphql::cost::directives::{Cost, ListSize, Size};
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;

/// `User.states` lists each state kind (`blocked`, `inactive`) at most once.
const STATES_MAX: u32 = 2;

/// What a user may do.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "Role")]
pub enum RoleValue {
    /// Manages categories, roles and user states, and may delete any content.
    Admin,
    /// A member: writes their own content and votes.
    User,
}

impl From<Role> for RoleValue {
    fn from(role: Role) -> Self {
        match role {
            Role::Admin => RoleValue::Admin,
            Role::User => RoleValue::User,
        }
    }
}

impl From<RoleValue> for Role {
    fn from(role: RoleValue) -> Self {
        match role {
            RoleValue::Admin => Role::Admin,
            RoleValue::User => Role::User,
        }
    }
}

/// A state a user is in (`blocked`, `inactive`), with the admin's note and when it began.
#[derive(SimpleObject)]
pub struct UserState {
    /// `blocked` or `inactive`.
    pub name: String,
    /// The admin's note: visible to admins and to the user themself; null for everyone else.
    pub detail: Option<String>,
    /// When the state began.
    pub created_at: DateTime,
    /// When the state ends by itself (a block with an end); null: until an admin lifts it.
    pub until: Option<DateTime>,
}

/// One successful login.
#[derive(SimpleObject)]
#[graphql(name = "LoginEvent")]
pub struct LoginEventNode {
    /// When the login happened.
    pub created_at: DateTime,
}

pub struct LoginHistoryTotals {
    user: UserId,
}

#[Object]
impl LoginHistoryTotals {
    /// All logins of the list (every page).
    #[graphql(directive = Cost::apply(1))]
    async fn total_count(&self, ctx: &Context<'_>) -> GqlResult<i64> {
        ctx.services()?.accounts.count_logins(self.user).await.gql()
    }
}

pub type LoginHistoryConnection =
    Connection<String, LoginEventNode, LoginHistoryTotals, EmptyFields>;

#[derive(Clone)]
pub struct UserNode {
    user: User,
    /// Handed to the user themself (sign-up, login), before any access token accompanies the request.
    own_session: bool,
}

impl UserNode {
    pub fn new(user: User) -> Self {
        Self {
            user,
            own_session: false,
        }
    }

    /// The user of a session just started: their private fields are theirs to see.
    pub fn of_session(user: User) -> Self {
        Self {
            user,
            own_session: true,
        }
    }

    /// Whether this is the asking user (their inbox and saved posts are theirs alone, not even admins').
    fn is_viewer(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        Ok(self.own_session
            || ctx
                .request()?
                .viewer()
                .is_some_and(|actor| actor.id == self.user.id))
    }

    /// Whether the asking user may see this user's private fields (email, login history).
    fn private_visible(&self, ctx: &Context<'_>) -> bool {
        self.own_session
            || ctx
                .request()
                .ok()
                .and_then(|r| r.viewer())
                .is_some_and(|actor| actor.id == self.user.id || actor.is_admin())
    }
}

/// A member of the board. A resigned user keeps their id (their content stays) with `name: null`.
#[Object(name = "User")]
impl UserNode {
    /// An opaque global id.
    pub async fn id(&self) -> ID {
        ids::user(self.user.id)
    }

    /// Null once the user has resigned.
    async fn name(&self) -> Option<&str> {
        self.user.name.as_deref()
    }

    /// Visible to the user themself and to admins; null for everyone else.
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        if self.private_visible(ctx) {
            self.user.email.as_deref()
        } else {
            None
        }
    }

    /// What the user may do.
    async fn role(&self) -> RoleValue {
        self.user.role.into()
    }

    /// The states the user is in now (`blocked`, `inactive`); empty for an active user. A block whose `until`
    /// has passed is over and not listed.
    #[graphql(directive = ListSize::apply(Size::assumed(STATES_MAX)))]
    async fn states(&self, ctx: &Context<'_>) -> Vec<UserState> {
        let private = self.private_visible(ctx);
        self.user
            .states_at(chrono::Utc::now())
            .map(|s| UserState {
                name: s.kind.as_db_name().to_owned(),
                detail: s.detail.clone().filter(|_| private),
                created_at: s.created_at.into(),
                until: s.until.map(Into::into),
            })
            .collect()
    }

    /// Whether an admin blocked the user.
    async fn is_blocked(&self) -> bool {
        self.user.is_blocked()
    }

    /// When the user signed up.
    async fn created_at(&self) -> DateTime {
        self.user.created_at.into()
    }

    /// The user's live posts, newest first by default.
    #[graphql(directive = ListSize::apply(Size::CONNECTION))]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order of the posts; `NEWEST` by default.")] order_by: Option<
            PostOrderValue,
        >,
        #[graphql(desc = "Forward: at most this many items after `after` (1–100; 20 by default).")]
        first: Option<i32>,
        #[graphql(desc = "Forward: start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Backward: at most this many items before `before` (1–100).")]
        last: Option<i32>,
        #[graphql(desc = "Backward: end before this cursor.")] before: Option<String>,
    ) -> GqlResult<PostConnection> {
        let filter = PostFilter {
            author_id: Some(self.user.id),
            ..PostFilter::default()
        };
        let order = order_by.map(PostOrder::from).unwrap_or_default();
        post_connection(ctx, filter, order, first, after, last, before).await
    }

    /// The user's live comments, newest first.
    #[graphql(directive = ListSize::apply(Size::CONNECTION))]
    async fn comments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Forward: at most this many items after `after` (1–100; 20 by default).")]
        first: Option<i32>,
        #[graphql(desc = "Forward: start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Backward: at most this many items before `before` (1–100).")]
        last: Option<i32>,
        #[graphql(desc = "Backward: end before this cursor.")] before: Option<String>,
    ) -> GqlResult<CommentConnection> {
        author_comments(ctx, self.user.id, first, after, last, before).await
    }

    /// The posts the user saved (`savePost`), newest save first; deleted and removed posts are left out.
    /// Visible to the user themself only; null for everyone else.
    #[graphql(directive = ListSize::apply(Size::CONNECTION))]
    async fn saved_posts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Forward: at most this many items after `after` (1–100; 20 by default).")]
        first: Option<i32>,
        #[graphql(desc = "Forward: start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Backward: at most this many items before `before` (1–100).")]
        last: Option<i32>,
        #[graphql(desc = "Backward: end before this cursor.")] before: Option<String>,
    ) -> GqlResult<Option<PostConnection>> {
        if !self.is_viewer(ctx)? {
            return Ok(None);
        }
        saved_posts(ctx, self.user.id, first, after, last, before)
            .await
            .map(Some)
    }

    /// The user's notifications, newest first; with `unreadOnly`, those not marked read. Visible to the user
    /// themself only; null for everyone else.
    #[graphql(directive = ListSize::apply(Size::CONNECTION))]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Only the notifications not marked read (null: false).",
            default_with = "Some(false)"
        )]
        unread_only: Option<bool>,
        #[graphql(desc = "Forward: at most this many items after `after` (1–100; 20 by default).")]
        first: Option<i32>,
        #[graphql(desc = "Forward: start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Backward: at most this many items before `before` (1–100).")]
        last: Option<i32>,
        #[graphql(desc = "Backward: end before this cursor.")] before: Option<String>,
    ) -> GqlResult<Option<NotificationConnection>> {
        if !self.is_viewer(ctx)? {
            return Ok(None);
        }
        notification_connection(
            ctx,
            self.user.id,
            unread_only.unwrap_or(false),
            first,
            after,
            last,
            before,
        )
        .await
        .map(Some)
    }

    /// How many of the user's notifications are not marked read (0 database round trips when warm): exact
    /// up to 10 000, 10 001 when there are more. Visible to the user themself only; null for everyone else.
    #[graphql(directive = Cost::apply(1))]
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> GqlResult<Option<i64>> {
        if !self.is_viewer(ctx)? {
            return Ok(None);
        }
        ctx.services()?
            .inbox
            .unread_count(self.user.id)
            .await
            .gql()
            .map(Some)
    }

    /// Successful logins, newest first. Visible to the user themself and to admins; null for everyone else.
    #[graphql(directive = ListSize::apply(Size::CONNECTION))]
    async fn login_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Forward: at most this many items after `after` (1–100; 20 by default).")]
        first: Option<i32>,
        #[graphql(desc = "Forward: start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Backward: at most this many items before `before` (1–100).")]
        last: Option<i32>,
        #[graphql(desc = "Backward: end before this cursor.")] before: Option<String>,
    ) -> GqlResult<Option<LoginHistoryConnection>> {
        if !self.private_visible(ctx) {
            return Ok(None);
        }
        let request = page_request(first, after, last, before).gql()?;
        let page = ctx
            .services()?
            .accounts
            .login_history(self.user.id, &request)
            .await
            .gql()?;
        let mut connection = Connection::with_additional_fields(
            page.has_previous_page,
            page.has_next_page,
            LoginHistoryTotals { user: self.user.id },
        );
        connection
            .edges
            .extend(page.items.into_iter().map(|e: LoginEvent| {
                Edge::new(
                    encode_cursor(e.id),
                    LoginEventNode {
                        created_at: e.created_at.into(),
                    },
                )
            }));
        Ok(Some(connection))
    }
}
