//! Account and user-administration mutations.

use crate::graphql::types::datetime::DateTime;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::app::AuthSession;
use crate::domain::{Email, NewPassword, UserName};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;
use crate::graphql::types::UserNode;
use crate::graphql::types::user::RoleValue;

/// A new account.
#[derive(InputObject)]
pub struct SignUpInput {
    /// 2–30 characters: letters, digits, `_` and `-`, no compatibility forms; scripts mixed only as UTS #39
    /// *Highly Restrictive* allows (Latin with Han and Hangul, e.g. `철수kim`; with Han and Kana; with Han and
    /// Bopomofo; never Latin with Cyrillic or Greek). Unique ignoring case and look-alikes: a name with the
    /// UTS #39 skeleton of a taken one (`рау` beside `pay`) is a `CONFLICT`.
    pub name: String,
    /// A valid address, unique; stored lower-case.
    pub email: String,
    /// 8–72 bytes.
    pub password: String,
}

/// A login by name or email.
#[derive(InputObject)]
pub struct LoginInput {
    /// The user's name or email.
    pub login: String,
    /// The account's password.
    pub password: String,
}

/// A refresh token to trade for a new pair.
#[derive(InputObject)]
pub struct RefreshTokenInput {
    /// The refresh token of the last `AuthPayload`; it works once.
    pub refresh_token: String,
}

/// The session to end.
#[derive(InputObject)]
pub struct LogoutInput {
    /// The refresh token of that session.
    pub refresh_token: String,
}

/// New profile values; absent ones stay.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// A new name (the rules of `SignUpInput.name`).
    pub name: Option<String>,
    /// A new email (the rules of `SignUpInput.email`).
    pub email: Option<String>,
}

/// The current password and a new one.
#[derive(InputObject)]
pub struct ChangePasswordInput {
    /// The password in use now.
    pub current_password: String,
    /// The new password: 8–72 bytes.
    pub new_password: String,
}

/// The confirmation of a resignation.
#[derive(InputObject)]
pub struct ResignInput {
    /// The account's password.
    pub password: String,
}

/// A user and the role to give them.
#[derive(InputObject)]
pub struct SetUserRoleInput {
    /// The user.
    pub user_id: ID,
    /// The new role.
    pub role: RoleValue,
}

/// A user to block.
#[derive(InputObject)]
pub struct BlockUserInput {
    /// The user to block.
    pub user_id: ID,
    /// Why; shown in the user's `states`.
    pub detail: Option<String>,
    /// When the block ends by itself (in the future, at most 100 years ahead); absent: until `unblockUser`.
    pub until: Option<DateTime>,
}

/// A user to unblock.
#[derive(InputObject)]
pub struct UnblockUserInput {
    /// The user to unblock.
    pub user_id: ID,
}

/// A signed-in session: a short-lived access token and a single-use refresh token.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Send as `Authorization: Bearer <accessToken>`.
    pub access_token: String,
    /// Single use: `refreshToken` answers a new one each time.
    pub refresh_token: String,
    /// When the access token expires.
    pub expires_at: DateTime,
    /// The signed-in user.
    pub user: UserNode,
}

impl From<AuthSession> for AuthPayload {
    fn from(s: AuthSession) -> Self {
        Self {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            expires_at: s.expires_at.into(),
            user: UserNode::of_session(s.user),
        }
    }
}

/// The result of `logout` and `logoutEverywhere`.
#[derive(SimpleObject)]
pub struct LogoutPayload {
    /// False when the refresh token named no live session.
    pub success: bool,
}

/// The result of `updateProfile`.
#[derive(SimpleObject)]
pub struct UpdateProfilePayload {
    /// The user with the new profile.
    pub user: UserNode,
}

/// Every other session is signed out; this payload carries the new one.
#[derive(SimpleObject)]
pub struct ChangePasswordPayload {
    /// The user.
    pub user: UserNode,
    /// The new access token; send as `Authorization: Bearer <accessToken>`.
    pub access_token: String,
    /// The new refresh token (single use).
    pub refresh_token: String,
    /// When the new access token expires.
    pub expires_at: DateTime,
}

/// The result of `resign`.
#[derive(SimpleObject)]
pub struct ResignPayload {
    /// The resigned user (name and email now null).
    pub user: UserNode,
}

/// The result of `setUserRole`.
#[derive(SimpleObject)]
pub struct SetUserRolePayload {
    /// The user with the new role.
    pub user: UserNode,
}

/// The result of `blockUser`.
#[derive(SimpleObject)]
pub struct BlockUserPayload {
    /// The blocked user.
    pub user: UserNode,
}

/// The result of `unblockUser`.
#[derive(SimpleObject)]
pub struct UnblockUserPayload {
    /// The unblocked user.
    pub user: UserNode,
}

#[derive(Default)]
pub struct AccountMutations;

#[Object]
impl AccountMutations {
    /// Creates an account and signs it in.
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The name, email and password of the new account.")] input: SignUpInput,
    ) -> GqlResult<AuthPayload> {
        let accounts = &ctx.services()?.accounts;
        let client = &ctx.request()?.client_ip;
        let name = UserName::parse("name", &input.name).gql()?;
        let email = Email::parse("email", &input.email).gql()?;
        let password = NewPassword::parse("password", &input.password).gql()?;
        Ok(accounts
            .sign_up(name, email, &password, client)
            .await
            .gql()?
            .into())
    }

    /// Signs in with a name or email and the password. Repeated failures are rate-limited.
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The login and the password.")] input: LoginInput,
    ) -> GqlResult<AuthPayload> {
        let accounts = &ctx.services()?.accounts;
        Ok(accounts
            .login(&input.login, &input.password, &ctx.request()?.client_ip)
            .await
            .gql()?
            .into())
    }

    /// Trades a refresh token for a new access and refresh token. A used token presented again revokes
    /// the whole login (reuse detection).
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The refresh token.")] input: RefreshTokenInput,
    ) -> GqlResult<AuthPayload> {
        let accounts = &ctx.services()?.accounts;
        Ok(accounts.refresh(&input.refresh_token).await.gql()?.into())
    }

    /// Ends the session of a refresh token.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The refresh token of the session to end.")] input: LogoutInput,
    ) -> GqlResult<LogoutPayload> {
        let success = ctx
            .services()?
            .accounts
            .logout(&input.refresh_token)
            .await
            .gql()?;
        Ok(LogoutPayload { success })
    }

    /// Members only. Changes the viewer's name or email.
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new values.")] input: UpdateProfileInput,
    ) -> GqlResult<UpdateProfilePayload> {
        let actor = ctx.actor()?.id;
        let accounts = &ctx.services()?.accounts;
        let name = input
            .name
            .as_deref()
            .map(|name| UserName::parse("name", name))
            .transpose()
            .gql()?;
        let email = input
            .email
            .as_deref()
            .map(|email| Email::parse("email", email))
            .transpose()
            .gql()?;
        let user = accounts.update_profile(actor, name, email).await.gql()?;
        Ok(UpdateProfilePayload {
            user: UserNode::new(user),
        })
    }

    /// Members only. Requires the current password.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The current and the new password.")] input: ChangePasswordInput,
    ) -> GqlResult<ChangePasswordPayload> {
        let actor = ctx.actor()?.id;
        let accounts = &ctx.services()?.accounts;
        let client = &ctx.request()?.client_ip;
        let new_password = NewPassword::parse("newPassword", &input.new_password).gql()?;
        let session = accounts
            .change_password(actor, &input.current_password, &new_password, client)
            .await
            .gql()?;
        Ok(ChangePasswordPayload {
            user: UserNode::of_session(session.user),
            access_token: session.access_token,
            refresh_token: session.refresh_token,
            expires_at: session.expires_at.into(),
        })
    }

    /// Signs the viewer out of every session: all refresh tokens stop working. Access tokens already issued
    /// expire within their lifetime (15 minutes by default).
    async fn logout_everywhere(&self, ctx: &Context<'_>) -> GqlResult<LogoutPayload> {
        let actor = ctx.actor()?.id;
        ctx.services()?
            .accounts
            .logout_everywhere(actor)
            .await
            .gql()?;
        Ok(LogoutPayload { success: true })
    }

    /// Requires the password. Name, email and password are erased; the user's content stays.
    async fn resign(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The password, to confirm.")] input: ResignInput,
    ) -> GqlResult<ResignPayload> {
        let actor = ctx.actor()?.id;
        let user = ctx
            .services()?
            .accounts
            .resign(actor, &input.password, &ctx.request()?.client_ip)
            .await
            .gql()?;
        Ok(ResignPayload {
            user: UserNode::new(user),
        })
    }
}

#[derive(Default)]
pub struct AdminMutations;

#[Object]
impl AdminMutations {
    /// Admin only.
    async fn set_user_role(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user and the role.")] input: SetUserRoleInput,
    ) -> GqlResult<SetUserRolePayload> {
        let actor = ctx.actor()?;
        let target = ids::decode_user("userId", &input.user_id).gql()?;
        let user = ctx
            .services()?
            .accounts
            .set_role(actor, target, input.role.into())
            .await
            .gql()?;
        Ok(SetUserRolePayload {
            user: UserNode::new(user),
        })
    }

    /// Admin only. Blocks the user: they cannot log in, and their tokens stop working on the next request
    /// (refresh tokens are revoked, open subscription sockets are closed). With `until`, the block ends by
    /// itself then.
    async fn block_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user and why.")] input: BlockUserInput,
    ) -> GqlResult<BlockUserPayload> {
        let actor = ctx.actor()?;
        let target = ids::decode_user("userId", &input.user_id).gql()?;
        let user = ctx
            .services()?
            .accounts
            .block(
                actor,
                target,
                input.detail.as_deref(),
                input.until.map(|u| u.0),
            )
            .await
            .gql()?;
        Ok(BlockUserPayload {
            user: UserNode::new(user),
        })
    }

    /// Admin only.
    async fn unblock_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user.")] input: UnblockUserInput,
    ) -> GqlResult<UnblockUserPayload> {
        let actor = ctx.actor()?;
        let target = ids::decode_user("userId", &input.user_id).gql()?;
        let user = ctx
            .services()?
            .accounts
            .unblock(actor, target)
            .await
            .gql()?;
        Ok(UnblockUserPayload {
            user: UserNode::new(user),
        })
    }
}
