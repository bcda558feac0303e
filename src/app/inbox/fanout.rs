//! The fan-out: after a write committed, the process that made it (or any process's sweep, for an entry a
//! crashed process left) claims its outbox entry, works out whom it notifies, writes their notifications in
//! chunks and announces each chunk to the subscriptions, then deletes the entry. docs/notifications.md.

use std::sync::Weak;
use std::time::{Duration, Instant};

use super::InboxService;
use super::plans::Watchers;
use crate::domain::notifications::{
    About, NotificationKind, OutboxEntry, Recipients, Source, SourceKind, Stage,
};
use crate::domain::{AppResult, BoardEvent, CommentId, PostId, UserId};
use crate::request::{self, RequestState};
use crate::telemetry::{metrics, traces};

/// How long a claim holds: a fan-out not finished by then is taken over by a sweep.
pub(super) const LEASE: Duration = Duration::from_secs(60);
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
            // While traces are exported, the fan-out is a span linked to the write, its round trips below
            // it, and the notifications it announces carry the write's trace (docs/traces.md).
            let span = traces::fanout_span(source, entry.cause);
            let state = RequestState::begin();
            state.handling(span.clone());
            let outcome = state
                .run(request::caused_by(entry.cause, self.fan_out(entry)))
                .await;
            if let Some(span) = &span {
                traces::end(span);
            }
            outcome
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
    pub(super) async fn deliver(
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
            crate::app::board::announce(self.events.as_ref(), event).await;
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
