//! Whom one write notifies (docs/notifications.md#who-is-told): the members a post or comment version
//! names or answers, its watchers, and the members a moderation action concerns — read from the primary,
//! leaving the caches alone.

use super::InboxService;
use crate::domain::markdown;
use crate::domain::notifications::{
    About, MENTIONS_MAX, NotificationKind, Recipients, Source, SourceKind, Stage, added_mentions,
};
use crate::domain::reports::ReportSubject;
use crate::domain::{
    AppError, AppResult, CategoryId, CommentId, ModActionId, ModActionKind, ModTarget, PostId,
    Revision, UserId,
};

/// Who besides the named members hears of a write: the watchers of a post or of categories.
pub(super) enum Watchers {
    Post(PostId),
    Categories(Vec<CategoryId>),
}

/// Whom one write notifies: members named directly (mentions, the author answered), then watchers — in
/// that order, so a member who is both keeps the more specific kind (the unique key skips the second).
pub(super) struct Plan {
    pub about: About,
    pub direct: Recipients,
    pub watchers: Option<(Watchers, NotificationKind)>,
}

impl InboxService {
    /// A post version: its new mentions; a new post also its categories' watchers. `None`: nothing to
    /// tell (the post is gone or removed).
    pub(super) async fn post_plan(
        &self,
        id: PostId,
        version: i32,
        stage: Stage,
    ) -> AppResult<Option<Plan>> {
        let Some(post) = self.board.posts_from_primary(&[id]).await?.remove(&id) else {
            return Ok(None);
        };
        if !post.is_active || post.removal.is_some() {
            return Ok(None);
        }
        let mut direct = Recipients::excluding(Some(post.author_id));
        if stage == Stage::Direct {
            let revisions = self.board.post_revisions_from_primary(id).await?;
            let source = Source::post(id.0, version);
            self.add_mentions(&mut direct, source, &revisions, version)
                .await?;
        }
        let watchers = if version == 0 {
            let categories = self
                .board
                .category_tree()
                .await?
                .with_ancestors(post.category_id);
            Some((
                Watchers::Categories(categories),
                NotificationKind::WatchedCategoryPost,
            ))
        } else {
            None
        };
        Ok(Some(Plan {
            about: About {
                actor: Some(post.author_id),
                post: Some(id),
                category: Some(post.category_id),
                ..About::default()
            },
            direct,
            watchers,
        }))
    }

    /// A comment version: its new mentions; a new comment also the author it answers and the post's
    /// watchers.
    pub(super) async fn comment_plan(
        &self,
        id: CommentId,
        version: i32,
        stage: Stage,
    ) -> AppResult<Option<Plan>> {
        let Some(comment) = self.board.comments_from_primary(&[id]).await?.remove(&id) else {
            return Ok(None);
        };
        let Some(post) = self
            .board
            .posts_from_primary(&[comment.post_id])
            .await?
            .remove(&comment.post_id)
        else {
            return Ok(None);
        };
        let readable = |active: bool, removed: bool| active && !removed;
        if !readable(comment.is_active, comment.removal.is_some())
            || !readable(post.is_active, post.removal.is_some())
        {
            return Ok(None);
        }
        let mut direct = Recipients::excluding(Some(comment.author_id));
        if stage == Stage::Direct {
            let revisions = self.board.comment_revisions_from_primary(id).await?;
            let source = Source::comment(id.0, version);
            self.add_mentions(&mut direct, source, &revisions, version)
                .await?;
        }
        let mut watchers = None;
        if version == 0 {
            let answered = match (stage, comment.parent_id) {
                (Stage::Watchers, _) => None,
                (Stage::Direct, Some(parent)) => self
                    .board
                    .comments_from_primary(&[parent])
                    .await?
                    .remove(&parent)
                    .map(|p| p.author_id),
                (Stage::Direct, None) => Some(post.author_id),
            };
            if let Some(author) = answered {
                direct.add(author, NotificationKind::Reply);
            }
            watchers = Some((
                Watchers::Post(post.id),
                NotificationKind::WatchedPostComment,
            ));
        }
        Ok(Some(Plan {
            about: About {
                actor: Some(comment.author_id),
                post: Some(post.id),
                comment: Some(id),
                category: Some(post.category_id),
                ..About::default()
            },
            direct,
            watchers,
        }))
    }

    /// Whether the post or comment of `source` (and a comment's post) is still live and not removed.
    pub(super) async fn still_readable(&self, source: Source) -> AppResult<bool> {
        let post = match source.kind {
            SourceKind::Post => PostId(source.id),
            SourceKind::Comment => {
                let id = CommentId(source.id);
                match self.board.comments_from_primary(&[id]).await?.remove(&id) {
                    Some(c) if c.is_active && c.removal.is_none() => c.post_id,
                    _ => return Ok(false),
                }
            }
            SourceKind::ModAction => return Ok(true),
        };
        Ok(self
            .board
            .posts_from_primary(&[post])
            .await?
            .remove(&post)
            .is_some_and(|p| p.is_active && p.removal.is_none()))
    }

    /// Adds the members `version` mentions that the version before it did not, at most [`MENTIONS_MAX`]
    /// who exist, each at most once per post or comment (removing a name and adding it back does not
    /// notify again).
    async fn add_mentions(
        &self,
        recipients: &mut Recipients,
        source: Source,
        revisions: &[Revision],
        version: i32,
    ) -> AppResult<()> {
        let text = |v: i32| revisions.iter().find(|r| r.version == v);
        let Some(now) = text(version) else {
            return Err(AppError::internal(format!("version {version} is missing")));
        };
        let before = match version {
            0 => Vec::new(),
            v => text(v - 1)
                .map(|r| markdown::mentions(&r.content))
                .unwrap_or_default(),
        };
        let mut named = Vec::new();
        for name in added_mentions(&before, &markdown::mentions(&now.content)) {
            if named.len() == MENTIONS_MAX {
                break;
            }
            if let Some(user) = self.accounts.user_id_by_name(&name).await?
                && !named.contains(&user)
            {
                named.push(user);
            }
        }
        let told = self.notifications.mentioned(source, &named).await?;
        for user in named.into_iter().filter(|u| !told.contains(u)) {
            recipients.add(user, NotificationKind::Mention);
        }
        Ok(())
    }

    /// A moderation action: the author of removed content, the reporters of a resolved report, a banned
    /// member. The moderator is not named (`actor` stays empty, as in the public log).
    pub(super) async fn moderation(&self, source: Source) -> AppResult<u64> {
        let id = ModActionId(source.id);
        let Some(action) = self.board.mod_actions_by_ids(&[id]).await?.remove(&id) else {
            return Ok(0);
        };
        let about = |post, comment| About {
            post,
            comment,
            category: action.category,
            ..About::default()
        };
        let one = |user: UserId, kind| {
            let mut recipients = Recipients::excluding(None);
            recipients.add(user, kind);
            recipients.into_vec()
        };
        match (action.kind, action.target) {
            (ModActionKind::Remove, Some(ModTarget::Post(post))) => {
                let Some(found) = self.board.posts_from_primary(&[post]).await?.remove(&post)
                else {
                    return Ok(0);
                };
                let kind = NotificationKind::ContentRemoved;
                self.deliver(source, &about(Some(post), None), one(found.author_id, kind))
                    .await
            }
            (ModActionKind::Remove, Some(ModTarget::Comment(comment))) => {
                let Some(found) = self
                    .board
                    .comments_from_primary(&[comment])
                    .await?
                    .remove(&comment)
                else {
                    return Ok(0);
                };
                let kind = NotificationKind::ContentRemoved;
                let about = about(Some(found.post_id), Some(comment));
                self.deliver(source, &about, one(found.author_id, kind))
                    .await
            }
            (ModActionKind::ResolveReport, Some(target)) => {
                let (subject, post, comment) = match target {
                    ModTarget::Post(p) => (ReportSubject::Post(p), Some(p), None),
                    ModTarget::Comment(c) => (ReportSubject::Comment(c), None, Some(c)),
                    _ => return Ok(0),
                };
                let mut notified = 0;
                let settled = self
                    .notifications
                    .settled_reports(subject, action.created_at)
                    .await?;
                for (report, reporter) in settled {
                    let about = About {
                        report: Some(report),
                        ..about(post, comment)
                    };
                    let kind = NotificationKind::ReportResolved;
                    notified += self.deliver(source, &about, one(reporter, kind)).await?;
                }
                Ok(notified)
            }
            (ModActionKind::Ban | ModActionKind::CategoryBan, Some(ModTarget::User(user))) => {
                self.deliver(
                    source,
                    &about(None, None),
                    one(user, NotificationKind::Banned),
                )
                .await
            }
            _ => Ok(0),
        }
    }
}
