//! Account and user-administration mutations.

use crate::graphql::types::datetime::DateTime;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::app::AuthSession;
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;
use crate::graphql::types::UserNode;
use crate::graphql::types::user::RoleValue;

#[derive(InputObject)]
pub struct SignUpInput {
    pub name: String,
    pub email: String,
    pub password: String,
}

#[derive(InputObject)]
pub struct LoginInput {
    /// The user's name or email.
    pub login: String,
    pub password: String,
}

#[derive(InputObject)]
pub struct RefreshTokenInput {
    pub refresh_token: String,
}

#[derive(InputObject)]
pub struct LogoutInput {
    pub refresh_token: String,
}

#[derive(InputObject)]
pub struct UpdateProfileInput {
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(InputObject)]
pub struct ChangePasswordInput {
    pub current_password: String,
    pub new_password: String,
}

#[derive(InputObject)]
pub struct ResignInput {
    pub password: String,
}

#[derive(InputObject)]
pub struct SetUserRoleInput {
    pub user_id: ID,
    pub role: RoleValue,
}

#[derive(InputObject)]
pub struct BlockUserInput {
    pub user_id: ID,
    /// Why; shown in the user's `states`.
    pub detail: Option<String>,
}

#[derive(InputObject)]
pub struct UnblockUserInput {
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

#[derive(SimpleObject)]
pub struct LogoutPayload {
    /// False when the refresh token named no live session.
    pub success: bool,
}

#[derive(SimpleObject)]
pub struct UpdateProfilePayload {
    pub user: UserNode,
}

/// Every other session is signed out; this payload carries the new one.
#[derive(SimpleObject)]
pub struct ChangePasswordPayload {
    pub user: UserNode,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: DateTime,
}

#[derive(SimpleObject)]
pub struct ResignPayload {
    pub user: UserNode,
}

#[derive(SimpleObject)]
pub struct SetUserRolePayload {
    pub user: UserNode,
}

#[derive(SimpleObject)]
pub struct BlockUserPayload {
    pub user: UserNode,
}

#[derive(SimpleObject)]
pub struct UnblockUserPayload {
    pub user: UserNode,
}

#[derive(Default)]
pub struct AccountMutations;

#[Object]
impl AccountMutations {
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> GqlResult<AuthPayload> {
        let accounts = &ctx.services()?.accounts;
        Ok(accounts
            .sign_up(
                &input.name,
                &input.email,
                &input.password,
                &ctx.request()?.client_ip,
            )
            .await
            .gql()?
            .into())
    }

    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> GqlResult<AuthPayload> {
        let accounts = &ctx.services()?.accounts;
        Ok(accounts
            .login(&input.login, &input.password, &ctx.request()?.client_ip)
            .await
            .gql()?
            .into())
    }

    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        input: RefreshTokenInput,
    ) -> GqlResult<AuthPayload> {
        let accounts = &ctx.services()?.accounts;
        Ok(accounts.refresh(&input.refresh_token).await.gql()?.into())
    }

    async fn logout(&self, ctx: &Context<'_>, input: LogoutInput) -> GqlResult<LogoutPayload> {
        let success = ctx
            .services()?
            .accounts
            .logout(&input.refresh_token)
            .await
            .gql()?;
        Ok(LogoutPayload { success })
    }

    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateProfileInput,
    ) -> GqlResult<UpdateProfilePayload> {
        let actor = ctx.actor()?.id;
        let accounts = &ctx.services()?.accounts;
        let user = accounts
            .update_profile(actor, input.name.as_deref(), input.email.as_deref())
            .await
            .gql()?;
        Ok(UpdateProfilePayload {
            user: UserNode::new(user),
        })
    }

    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: ChangePasswordInput,
    ) -> GqlResult<ChangePasswordPayload> {
        let actor = ctx.actor()?.id;
        let accounts = &ctx.services()?.accounts;
        let session = accounts
            .change_password(
                actor,
                &input.current_password,
                &input.new_password,
                &ctx.request()?.client_ip,
            )
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
    async fn resign(&self, ctx: &Context<'_>, input: ResignInput) -> GqlResult<ResignPayload> {
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
        input: SetUserRoleInput,
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

    /// Admin only. Blocks the user: they cannot log in, and their tokens stop working on the next request.
    async fn block_user(
        &self,
        ctx: &Context<'_>,
        input: BlockUserInput,
    ) -> GqlResult<BlockUserPayload> {
        let actor = ctx.actor()?;
        let target = ids::decode_user("userId", &input.user_id).gql()?;
        let user = ctx
            .services()?
            .accounts
            .block(actor, target, input.detail.as_deref())
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
        input: UnblockUserInput,
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
