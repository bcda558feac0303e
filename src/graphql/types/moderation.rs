//! Moderation as readers see it: `Moderation` on posts and comments, the log's `ModAction`, and who may
//! see removed content (docs/moderation.md).

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, Object, SimpleObject};

use super::category::CategoryNode;
use super::comment::CommentNode;
use super::node::Node;
use super::pagination::{connection, encode_cursor, page_request};
use super::post::PostNode;
use super::user::UserNode;
use crate::domain::{
    Access, CategoryId, Comment, ModAction, ModActionKind, ModTarget, Post, Removal, User,
};
use crate::graphql::context::ContextExt;
use crate::graphql::cost::directives::Cost;
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;
use crate::graphql::loaders::ViewerModerates;
use crate::graphql::types::datetime::DateTime;

/// Whether the request's viewer may moderate `category`: admins at once, others through the loader (one
/// read of the cached tree per batch, however many fields ask).
pub async fn viewer_moderates(ctx: &Context<'_>, category: CategoryId) -> GqlResult<bool> {
    let Some(viewer) = ctx.request()?.viewer() else {
        return Ok(false);
    };
    if !viewer.may_act() {
        return Ok(false);
    }
    if viewer.is_admin() {
        return Ok(true);
    }
    Ok(ctx
        .loaders()?
        .board
        .load_one(ViewerModerates(viewer.id, category))
        .await
        .gql()?
        .unwrap_or(false))
}

/// Whether the viewer may see content of this access (docs/moderation.md); the same rule as
/// `BoardService::may_see`, read through the request's loaders.
async fn may_see(ctx: &Context<'_>, access: Access) -> GqlResult<bool> {
    match access {
        Access::Visible => Ok(true),
        Access::Hidden => Ok(false),
        Access::ModeratorsOf(category) => viewer_moderates(ctx, category).await,
        Access::ModeratorsOfPost(post) => {
            let post = ctx.loaders()?.board.load_one(post).await.gql()?;
            match post {
                Some(post) => viewer_moderates(ctx, post.category_id).await,
                None => Ok(false),
            }
        }
    }
}

/// The access of content for the request's viewer. What anyone may see (live content) is decided without
/// reading the viewer, so it does not make the answer the viewer's own: content visible to the anonymous is
/// visible to every viewer (`domain::board`'s rule).
fn access_for(ctx: &Context<'_>, access: impl Fn(Option<&User>) -> Access) -> GqlResult<Access> {
    match access(None) {
        Access::Visible => Ok(Access::Visible),
        _ => Ok(access(ctx.request()?.viewer())),
    }
}

/// Whether the viewer may see this post (removed posts: the author, moderators of its category and admins).
pub async fn may_see_post(ctx: &Context<'_>, post: &Post) -> GqlResult<bool> {
    may_see(ctx, access_for(ctx, |viewer| post.access(viewer))?).await
}

/// As [`may_see_post`], for a comment.
pub async fn may_see_comment(ctx: &Context<'_>, comment: &Comment) -> GqlResult<bool> {
    may_see(ctx, access_for(ctx, |viewer| comment.access(viewer))?).await
}

/// The post if the viewer may see it.
pub async fn visible_post(ctx: &Context<'_>, post: Option<Post>) -> GqlResult<Option<Post>> {
    match post {
        Some(p) if may_see_post(ctx, &p).await? => Ok(Some(p)),
        _ => Ok(None),
    }
}

/// The comment if the viewer may see it.
pub async fn visible_comment(
    ctx: &Context<'_>,
    comment: Option<Comment>,
) -> GqlResult<Option<Comment>> {
    match comment {
        Some(c) if may_see_comment(ctx, &c).await? => Ok(Some(c)),
        _ => Ok(None),
    }
}

/// `moderation` of a post or comment: for its author, the moderators of its category and admins.
pub async fn moderation_for(
    ctx: &Context<'_>,
    author: crate::domain::UserId,
    category: Option<CategoryId>,
    removal: Option<&Removal>,
) -> GqlResult<Option<Moderation>> {
    let Some(viewer) = ctx.request()?.viewer() else {
        return Ok(None);
    };
    let allowed = viewer.id == author
        || match category {
            Some(category) => viewer_moderates(ctx, category).await?,
            None => viewer.is_admin() && viewer.may_act(),
        };
    Ok(allowed.then(|| Moderation {
        removed: removal.is_some(),
        reason: removal.and_then(|r| r.reason.clone()),
        removed_at: removal.map(|r| DateTime(r.removed_at)),
    }))
}

/// What moderators did to a post or comment.
#[derive(SimpleObject)]
pub struct Moderation {
    /// Whether a moderator removed it (it is then hidden from everyone but its author, the moderators of
    /// its category and admins).
    pub removed: bool,
    /// The moderator's reason; null when not removed.
    pub reason: Option<String>,
    /// When it was removed; null when not removed.
    pub removed_at: Option<DateTime>,
}

/// What a moderation log entry records.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "ModActionKind")]
pub enum ModActionKindValue {
    /// A post or comment removed.
    Remove,
    /// A removed post or comment restored.
    Restore,
    /// A post locked (no new comments).
    Lock,
    /// A post unlocked.
    Unlock,
    /// A post pinned to its category.
    Pin,
    /// A post unpinned.
    Unpin,
    /// A user blocked.
    Ban,
    /// A user unblocked.
    Unban,
    /// A user banned from a category.
    CategoryBan,
    /// A category ban lifted.
    CategoryUnban,
    /// A user's role changed (the reason names the new role).
    SetRole,
    /// A moderator appointed or dismissed (the reason says which).
    SetModerator,
    /// A category created, renamed or moved.
    CategoryChange,
    /// A report resolved.
    ResolveReport,
}

impl From<ModActionKind> for ModActionKindValue {
    fn from(kind: ModActionKind) -> Self {
        match kind {
            ModActionKind::Remove => Self::Remove,
            ModActionKind::Restore => Self::Restore,
            ModActionKind::Lock => Self::Lock,
            ModActionKind::Unlock => Self::Unlock,
            ModActionKind::Pin => Self::Pin,
            ModActionKind::Unpin => Self::Unpin,
            ModActionKind::Ban => Self::Ban,
            ModActionKind::Unban => Self::Unban,
            ModActionKind::CategoryBan => Self::CategoryBan,
            ModActionKind::CategoryUnban => Self::CategoryUnban,
            ModActionKind::SetRole => Self::SetRole,
            ModActionKind::SetModerator => Self::SetModerator,
            ModActionKind::CategoryChange => Self::CategoryChange,
            ModActionKind::ResolveReport => Self::ResolveReport,
        }
    }
}

#[derive(Clone)]
pub struct ModActionNode(pub ModAction);

/// One entry of the public moderation log.
#[Object(name = "ModAction")]
impl ModActionNode {
    /// An opaque global id.
    pub async fn id(&self) -> ID {
        ids::encode(crate::domain::ModActionId::KIND, self.0.id.0)
    }

    /// What was done.
    async fn kind(&self) -> ModActionKindValue {
        self.0.kind.into()
    }

    /// The moderator's reason, or what changed (`SET_ROLE`: the new role; `SET_MODERATOR`: appointed or
    /// dismissed; `CATEGORY_CHANGE`: created, renamed or moved); null when none was given.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// When it was done.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }

    /// When the action ends by itself (a ban with an end); null when it does not.
    async fn expires_at(&self) -> Option<DateTime> {
        self.0.expires_at.map(DateTime)
    }

    /// What was acted on; null when it is gone or the viewer may not see it (removed content, for
    /// anyone but its author, the moderators of its category and admins).
    async fn target(&self, ctx: &Context<'_>) -> GqlResult<Option<Node>> {
        let Some(target) = self.0.target else {
            return Ok(None);
        };
        let loaders = ctx.loaders()?;
        Ok(match target {
            ModTarget::User(id) => loaders
                .users
                .load_one(id)
                .await
                .gql()?
                .map(|u| Node::User(UserNode::new(u))),
            ModTarget::Category(id) => loaders
                .board
                .load_one(id)
                .await
                .gql()?
                .map(|c| Node::Category(CategoryNode(c))),
            ModTarget::Post(id) => {
                let post = loaders.board.load_one(id).await.gql()?;
                visible_post(ctx, post)
                    .await?
                    .map(|p| Node::Post(PostNode(p)))
            }
            ModTarget::Comment(id) => {
                let comment = loaders.board.load_one(id).await.gql()?;
                visible_comment(ctx, comment)
                    .await?
                    .map(|c| Node::Comment(CommentNode(c)))
            }
        })
    }

    /// The category the action concerns; null for board-wide actions (roles, blocks) or a deleted category.
    async fn category(&self, ctx: &Context<'_>) -> GqlResult<Option<CategoryNode>> {
        let Some(category) = self.0.category else {
            return Ok(None);
        };
        Ok(ctx
            .loaders()?
            .board
            .load_one(category)
            .await
            .gql()?
            .map(CategoryNode))
    }

    /// Who acted: visible to the moderators of the entry's category and to admins (board-wide entries: admins
    /// only); null for everyone else.
    async fn moderator(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> {
        let viewer = ctx.request()?.viewer();
        let allowed = match (viewer, self.0.category) {
            (None, _) => false,
            (Some(v), None) => v.is_admin() && v.may_act(),
            (Some(_), Some(category)) => viewer_moderates(ctx, category).await?,
        };
        if !allowed {
            return Ok(None);
        }
        Ok(ctx
            .loaders()?
            .users
            .load_one(self.0.moderator)
            .await
            .gql()?
            .map(UserNode::new))
    }
}

pub struct ModLogTotals {
    category: Option<CategoryId>,
}

#[Object]
impl ModLogTotals {
    /// All entries of the log (every page).
    #[graphql(directive = Cost::apply(1))]
    async fn total_count(&self, ctx: &Context<'_>) -> GqlResult<i64> {
        ctx.services()?
            .board
            .count_mod_log(self.category)
            .await
            .gql()
    }
}

pub type ModActionConnection = Connection<String, ModActionNode, ModLogTotals>;

/// A page of the log of `category` (with its descendants) or of the whole board, newest first.
pub async fn mod_log_connection(
    ctx: &Context<'_>,
    category: Option<CategoryId>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> GqlResult<ModActionConnection> {
    let request = page_request(first, after, last, before).gql()?;
    let page = ctx
        .services()?
        .board
        .mod_log(category, &request)
        .await
        .gql()?;
    Ok(connection(
        page,
        ModLogTotals { category },
        |a: &ModAction| encode_cursor(a.id.0),
        |a| Some(ModActionNode(a.clone())),
    ))
}
