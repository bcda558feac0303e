//! The notification inbox: a member's notifications, newest first, their unread count (a cache entry per
//! member, 0 database round trips when warm), marking them read; and the fan-out ([`fanout`]) that writes
//! them from the outbox after the causing write committed. docs/notifications.md.

mod fanout;
mod plans;
mod wake;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use fanout::run_outbox;
pub use wake::OutboxWake;

use super::cache_aside::CacheAside;
use super::{AccountService, BoardService};
use crate::domain::notifications::{Notification, Source};
use crate::domain::page::{Page, PageRequest};
use crate::domain::{AppError, AppResult, NotificationId, User, UserId};
use crate::ports::{Clock, Events, NotificationRepo};

/// A member's unread count: `<prefix>:v1:unread_notifications:<user>`.
const UNREAD: &str = "unread_notifications";

/// Most ids one `markNotificationsRead` names.
pub const MARK_READ_MAX: usize = 100;

/// How the fan-out and the expiry run.
#[derive(Debug, Clone)]
pub struct InboxSettings {
    pub read_ttl: Duration,
    pub fanout_chunk: usize,
    pub sweep: Duration,
}

/// What the inbox reads and writes through.
pub struct InboxPorts {
    pub notifications: Arc<dyn NotificationRepo>,
    pub events: Arc<dyn Events>,
    pub clock: Arc<dyn Clock>,
}

pub struct InboxService {
    notifications: Arc<dyn NotificationRepo>,
    accounts: Arc<AccountService>,
    board: Arc<BoardService>,
    events: Arc<dyn Events>,
    clock: Arc<dyn Clock>,
    cache: CacheAside,
    settings: InboxSettings,
    wake: OutboxWake,
}

impl InboxService {
    pub fn new(
        ports: InboxPorts,
        accounts: Arc<AccountService>,
        board: Arc<BoardService>,
        cache: CacheAside,
        settings: InboxSettings,
        wake: OutboxWake,
    ) -> Self {
        Self {
            notifications: ports.notifications,
            accounts,
            board,
            events: ports.events,
            clock: ports.clock,
            cache,
            settings,
            wake,
        }
    }

    /// The same service over these (re-cached) services.
    pub fn with_services(
        &self,
        accounts: Arc<AccountService>,
        board: Arc<BoardService>,
        cache: CacheAside,
    ) -> Self {
        Self {
            notifications: Arc::clone(&self.notifications),
            accounts,
            board,
            events: Arc::clone(&self.events),
            clock: Arc::clone(&self.clock),
            cache,
            settings: self.settings.clone(),
            wake: self.wake.clone(),
        }
    }

    /// A page of the viewer's notifications, newest first (from the primary: the inbox is the viewer's own,
    /// read right after they marked it).
    pub async fn page(
        &self,
        viewer: UserId,
        unread_only: bool,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<Notification>> {
        self.notifications.page(viewer, unread_only, page).await
    }

    pub async fn count(&self, viewer: UserId, unread_only: bool) -> AppResult<i64> {
        self.notifications.count(viewer, unread_only).await
    }

    /// The viewer's unread count: from the cache when warm; deleted by every fan-out that notifies them
    /// and by their own `markNotificationsRead`.
    pub async fn unread_count(&self, viewer: UserId) -> AppResult<i64> {
        let notifications = Arc::clone(&self.notifications);
        let found = self
            .cache
            .load(UNREAD, &[viewer], |_| async move {
                Ok(vec![(viewer, notifications.count(viewer, true).await?)])
            })
            .await?;
        Ok(found.get(&viewer).copied().unwrap_or(0))
    }

    /// Notifications by id, whoever owns them (callers show a member only their own).
    pub async fn by_ids(
        &self,
        ids: &[NotificationId],
    ) -> AppResult<HashMap<NotificationId, Notification>> {
        Ok(self
            .notifications
            .by_ids(ids)
            .await?
            .into_iter()
            .map(|n| (n.id, n))
            .collect())
    }

    /// The notifications one fan-out chunk wrote, ids `first..=last` (for the subscription hub).
    pub async fn chunk(
        &self,
        source: Source,
        first: NotificationId,
        last: NotificationId,
    ) -> AppResult<Vec<Notification>> {
        self.notifications.by_source(source, first, last).await
    }

    /// Marks the actor's notifications read — those of `ids` that are theirs, or all — and answers their
    /// unread count after it (read on the primary, then the cached count is forgotten).
    pub async fn mark_read(&self, actor: &User, ids: Option<&[NotificationId]>) -> AppResult<i64> {
        if actor.is_resigned() {
            return Err(AppError::Forbidden("this account is closed".into()));
        }
        if ids.is_some_and(|ids| ids.len() > MARK_READ_MAX) {
            return Err(AppError::invalid(
                "ids",
                format!("names at most {MARK_READ_MAX} notifications"),
            ));
        }
        self.notifications
            .mark_read(actor.id, ids, self.clock.now())
            .await?;
        self.forget_unread(&[actor.id]).await;
        self.notifications.count(actor.id, true).await
    }

    async fn forget_unread(&self, users: &[UserId]) {
        let keys: Vec<String> = users.iter().map(|u| self.cache.key(UNREAD, u)).collect();
        self.cache.invalidate(&keys).await;
    }

    /// Writes whose fan-out has not finished (on every process): 0 once every notification of every
    /// committed write is in its inbox.
    pub async fn outbox_backlog(&self) -> AppResult<i64> {
        self.notifications.outbox_len().await
    }

    /// Tells this process's fan-out that a write added outbox entries.
    pub fn wake(&self) -> &OutboxWake {
        &self.wake
    }
}
