//! The fan-out: after a write committed, the process that made it (or any process's sweep, for an entry a
//! crashed process left) claims its outbox entry, works out whom it notifies, writes their notifications in
//! chunks and announces each chunk to the subscriptions, then deletes the entry. docs/notifications.md.

use std::sync::Weak;
use std::time::{Duration, Instant};

use super::InboxService;
use crate::domain::markdown;
use crate::domain::notifications::{
    About, MENTIONS_MAX, NotificationKind, OutboxEntry, Recipients, Source, SourceKind, Stage,
    added_mentions,
};
use crate::domain::reports::ReportSubject;
use crate::domain::{
    AppError, AppResult, BoardEvent, CategoryId, CommentId, ModActionId, ModActionKind, ModTarget,
    PostId, Revision, UserId,
};
use crate::telemetry::metrics;

/// How long a claim holds: a fan-out not finished by then is taken over by a sweep.
const LEASE: Duration = Duration::from_secs(60);
/// Outbox entries one sweep reads at a time.
const BATCH: usize = 16;
/// An entry whose fan-out failed this many times is given up (logged and counted): one bad entry must not
/// stall the outbox.
const ATTEMPTS_MAX: i32 = 5;
/// How often read notifications past their time are deleted, and how many per statement.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);
const EXPIRE_BATCH: usize = 1_000;
/// Statements one expiry round runs at most (the rest waits for the next round).
const EXPIRE_ROUNDS: usize = 10;

/// Who besides the named members hears of a write: the watchers of a post or of categories.
enum Watchers {
    Post(PostId),
    Categories(Vec<CategoryId>),
}

/// Whom one write notifies: members named directly (mentions, the author answered), then watchers — in
/// that order, so a member who is both keeps the more specific kind (the unique key skips the second).
struct Plan {
    about: About,
    direct: Recipients,
    watchers: Option<(Watchers, NotificationKind)>,
}

/// Runs the fan-out of this process for as long as `inbox` lives: at once when a write here nudges it, and
/// every sweep interval for what other processes left. Also expires old read notifications.
pub async fn run_outbox(inbox: Weak<InboxService>) {
    let (wake, sweep) = match inbox.upgrade() {
        Some(inbox) => (inbox.wake.clone(), inbox.settings.sweep),
        None => return,
    };
    let mut expired_at: Option<Instant> = None;
    loop {
        {
            let Some(inbox) = inbox.upgrade() else { return };
            inbox.drain().await;
            if expired_at.is_none_or(|at| at.elapsed() >= EXPIRE_EVERY) {
                inbox.expire().await;
                expired_at = Some(Instant::now());
            }
        }
        tokio::select! {
            () = tokio::time::sleep(sweep) => {}
            () = wake.notified() => {}
        }
    }
}

impl InboxService {
    /// Fans out every outbox entry nobody holds, until none is left that this process could claim: the
    /// direct part of every waiting write first, then one write's watchers, then the direct parts that
    /// arrived meanwhile, and so on — a post watched by thousands holds back nobody's mentions.
    pub(super) async fn drain(&self) {
        loop {
            if self.claim_and_settle(Stage::Direct, BATCH).await {
                continue;
            }
            if !self.claim_and_settle(Stage::Watchers, 1).await {
                return;
            }
        }
    }

    /// Claims and settles up to `limit` pending entries at `stage`; whether it claimed any.
    async fn claim_and_settle(&self, stage: Stage, limit: usize) -> bool {
        let now = self.clock.now();
        let entries = match self.notifications.pending(stage, now, limit).await {
            Ok(entries) => entries,
            Err(err) => {
                tracing::warn!(error = %err, "could not read the notification outbox");
                return false;
            }
        };
        let mut claimed_any = false;
        for entry in entries {
            let until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
            match self.notifications.claim(entry.id, now, until).await {
                Ok(true) => claimed_any = true,
                Ok(false) => continue,
                Err(err) => {
                    tracing::warn!(error = %err, entry = entry.id, "could not claim an outbox entry");
                    continue;
                }
            }
            self.settle(entry).await;
        }
        claimed_any
    }

    /// Fans one claimed entry out and deletes it; a failure leaves it to be claimed again when the lease
    /// ends, until [`ATTEMPTS_MAX`].
    async fn settle(&self, entry: OutboxEntry) {
        let started = Instant::now();
        let source = entry.source.kind.as_db_name();
        let outcome = if entry.attempts >= ATTEMPTS_MAX {
            tracing::error!(
                entry = entry.id,
                source,
                attempts = entry.attempts,
                "gave up fanning out an outbox entry"
            );
            metrics::outbox_failure("gave_up");
            Ok((0, None))
        } else {
            self.fan_out(entry).await
        };
        match outcome {
            Ok((recipients, Some(Stage::Watchers))) => {
                metrics::notification_fanout(source, recipients, started.elapsed().as_secs_f64());
                if let Err(err) = self.notifications.advance(entry.id).await {
                    tracing::warn!(error = %err, entry = entry.id, "could not pass an outbox entry to its watchers' part (it is fanned out again, notifying nobody twice)");
                }
            }
            Ok((recipients, _)) => {
                metrics::notification_fanout(source, recipients, started.elapsed().as_secs_f64());
                if let Err(err) = self.notifications.finish(entry.id).await {
                    tracing::warn!(error = %err, entry = entry.id, "could not delete a finished outbox entry (it is fanned out again, notifying nobody twice)");
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, entry = entry.id, source, "a fan-out failed; it is retried when its claim ends");
                metrics::outbox_failure("retry");
            }
        }
    }

    /// Writes the notifications of one entry's stage; answers how many members were notified, and
    /// `Some(Stage::Watchers)` when the watchers' part is still to come.
    async fn fan_out(&self, entry: OutboxEntry) -> AppResult<(u64, Option<Stage>)> {
        let source = entry.source;
        let plan = match source.kind {
            SourceKind::Post => {
                self.post_plan(PostId(source.id), source.version, entry.stage)
                    .await?
            }
            SourceKind::Comment => {
                self.comment_plan(CommentId(source.id), source.version, entry.stage)
                    .await?
            }
            SourceKind::ModAction => return Ok((self.moderation(source).await?, None)),
        };
        let Some(plan) = plan else {
            return Ok((0, None));
        };
        match (entry.stage, plan.watchers) {
            (Stage::Direct, watchers) => {
                let notified = self
                    .deliver(source, &plan.about, plan.direct.into_vec())
                    .await?;
                Ok((notified, watchers.map(|_| Stage::Watchers)))
            }
            (Stage::Watchers, Some((watchers, kind))) => {
                let notified = self
                    .deliver_to_watchers(entry.id, source, &plan.about, watchers, kind)
                    .await?;
                Ok((notified, None))
            }
            (Stage::Watchers, None) => Ok((0, None)),
        }
    }

    /// A post version: its new mentions; a new post also its categories' watchers. `None`: nothing to
    /// tell (the post is gone or removed).
    async fn post_plan(&self, id: PostId, version: i32, stage: Stage) -> AppResult<Option<Plan>> {
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
    async fn comment_plan(
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
    async fn still_readable(&self, source: Source) -> AppResult<bool> {
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
    async fn moderation(&self, source: Source) -> AppResult<u64> {
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

    /// Notifies the watchers chunk by chunk (each chunk one statement and one announcement).
    /// Before each chunk the claim is renewed (a long fan-out is not taken over while it runs) and the
    /// write is read again: once deleted or removed, nobody further hears of it.
    async fn deliver_to_watchers(
        &self,
        entry: i64,
        source: Source,
        about: &About,
        watchers: Watchers,
        kind: NotificationKind,
    ) -> AppResult<u64> {
        let chunk = self.settings.fanout_chunk;
        let mut after = None;
        let mut notified = 0;
        loop {
            if after.is_some() {
                let now = self.clock.now();
                let lease = chrono::Duration::from_std(LEASE).unwrap_or_default();
                self.notifications.renew(entry, now + lease).await?;
                if !self.still_readable(source).await? {
                    break;
                }
            }
            let page = match &watchers {
                Watchers::Post(post) => {
                    self.notifications
                        .post_watchers(*post, after, chunk)
                        .await?
                }
                Watchers::Categories(categories) => {
                    self.notifications
                        .category_watchers(categories, after, chunk)
                        .await?
                }
            };
            let Some(&last) = page.last() else { break };
            after = Some(last);
            let mut recipients = Recipients::excluding(about.actor);
            for user in &page {
                recipients.add(*user, kind);
            }
            notified += self.deliver(source, about, recipients.into_vec()).await?;
            if page.len() < chunk {
                break;
            }
        }
        Ok(notified)
    }

    /// Writes one chunk: only members who may still act (not blocked, resigned or deactivated; a blocked
    /// member still learns of their own ban and the removal of their content); forgets
    /// their unread counts and announces the chunk. Answers how many were newly notified.
    async fn deliver(
        &self,
        source: Source,
        about: &About,
        recipients: Vec<(UserId, NotificationKind)>,
    ) -> AppResult<u64> {
        if recipients.is_empty() {
            return Ok(0);
        }
        let users: Vec<UserId> = recipients.iter().map(|(u, _)| *u).collect();
        let members = self.accounts.users_from_primary(&users).await?;
        let kept: Vec<(UserId, NotificationKind)> = recipients
            .into_iter()
            .filter(|(user, kind)| {
                members
                    .get(user)
                    .is_some_and(|m| m.may_act() || (kind.about_moderation() && !m.is_resigned()))
            })
            .collect();
        let added = self
            .notifications
            .insert(source, about, &kept, self.clock.now())
            .await?;
        let members: Vec<UserId> = added.iter().map(|(user, _)| *user).collect();
        let fresh: std::collections::HashSet<UserId> = members.iter().copied().collect();
        for (_, kind) in kept.iter().filter(|(u, _)| fresh.contains(u)) {
            metrics::notifications_created(kind.as_db_name(), 1);
        }
        self.forget_unread(&members).await;
        let ids = added.iter().map(|(_, id)| *id);
        if let (Some(first), Some(last)) = (ids.clone().min(), ids.max()) {
            let event = BoardEvent::notifications(source, first, last);
            if let Err(err) = self.events.publish(&event).await {
                tracing::warn!(error = %err, "could not announce new notifications");
                metrics::event_published(event.kind.as_str(), "error");
            } else {
                metrics::event_published(event.kind.as_str(), "ok");
            }
        }
        Ok(added.len() as u64)
    }

    /// Deletes read notifications older than `notification_read_ttl_days`, a bounded amount per round.
    pub(super) async fn expire(&self) {
        let Ok(ttl) = chrono::Duration::from_std(self.settings.read_ttl) else {
            return;
        };
        let before = self.clock.now() - ttl;
        for _ in 0..EXPIRE_ROUNDS {
            match self.notifications.expire_read(before, EXPIRE_BATCH).await {
                Ok(n) => {
                    metrics::notifications_expired(n);
                    if (n as usize) < EXPIRE_BATCH {
                        return;
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not expire read notifications");
                    return;
                }
            }
        }
    }
}
