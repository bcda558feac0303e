//! The port for notifications and their outbox (docs/notifications.md).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::notifications::{
    About, Notification, NotificationKind, OutboxEntry, Source, Stage,
};
use crate::domain::page::{Page, PageRequest};
use crate::domain::reports::ReportSubject;
use crate::domain::{AppResult, CategoryId, NotificationId, PostId, ReportId, UserId};

/// # Errors
/// `Unavailable` / `Internal` as for every repository.
#[async_trait]
pub trait NotificationRepo: Send + Sync {
    /// Outbox entries at `stage` nobody holds a live claim on, oldest first, at most `limit`.
    async fn pending(
        &self,
        stage: Stage,
        now: DateTime<Utc>,
        limit: usize,
    ) -> AppResult<Vec<OutboxEntry>>;
    /// Claims `entry` until `until` when nobody holds a live claim on it (one conditional update); `false`
    /// when another process got it first or it is done.
    async fn claim(&self, entry: i64, now: DateTime<Utc>, until: DateTime<Utc>) -> AppResult<bool>;
    /// The entry's direct part is done: it waits, unclaimed, for its watchers' part.
    async fn advance(&self, entry: i64) -> AppResult<()>;
    /// Extends the claim on `entry` (its holder is still at work) to `until`.
    async fn renew(&self, entry: i64, until: DateTime<Utc>) -> AppResult<()>;
    /// The entry's fan-out is complete: it leaves the outbox.
    async fn finish(&self, entry: i64) -> AppResult<()>;
    /// Entries in the outbox (claimed or not).
    async fn outbox_len(&self) -> AppResult<i64>;

    /// Members watching the post, by id after `after`, at most `limit`.
    async fn post_watchers(
        &self,
        post: PostId,
        after: Option<UserId>,
        limit: usize,
    ) -> AppResult<Vec<UserId>>;
    /// Members watching any of `categories`, by id after `after`, at most `limit`, each once.
    async fn category_watchers(
        &self,
        categories: &[CategoryId],
        after: Option<UserId>,
        limit: usize,
    ) -> AppResult<Vec<UserId>>;
    /// Which of `users` a version of `source`'s post or comment (any version) already mentioned.
    async fn mentioned(&self, source: Source, users: &[UserId]) -> AppResult<Vec<UserId>>;
    /// The reports of `subject` (and their reporters) that one resolution, at `at`, settled.
    async fn settled_reports(
        &self,
        subject: ReportSubject,
        at: DateTime<Utc>,
    ) -> AppResult<Vec<(ReportId, UserId)>>;

    /// Writes one notification per `(user, kind)` from `source`; one the member already has from it is
    /// skipped (the fan-out may run twice). Answers the new ones: their members and ids.
    async fn insert(
        &self,
        source: Source,
        about: &About,
        recipients: &[(UserId, NotificationKind)],
        at: DateTime<Utc>,
    ) -> AppResult<Vec<(UserId, NotificationId)>>;
    /// Marks the user's notifications read: those of `ids` (others' ids are ignored), or all. Answers how
    /// many changed.
    async fn mark_read(
        &self,
        user: UserId,
        ids: Option<&[NotificationId]>,
        at: DateTime<Utc>,
    ) -> AppResult<u64>;
    /// Deletes up to `limit` notifications read before `before`; answers how many.
    async fn expire_read(&self, before: DateTime<Utc>, limit: usize) -> AppResult<u64>;

    /// A page of the user's notifications, newest first, keyed by id. One round trip.
    async fn page(
        &self,
        user: UserId,
        unread_only: bool,
        page: &PageRequest<i64>,
    ) -> AppResult<Page<Notification>>;
    /// Exact up to [`NOTIFICATION_COUNT_CAP`](crate::domain::notifications::NOTIFICATION_COUNT_CAP); more
    /// answers the cap plus one. One round trip over at most that many index entries.
    async fn count(&self, user: UserId, unread_only: bool) -> AppResult<i64>;
    async fn by_ids(&self, ids: &[NotificationId]) -> AppResult<Vec<Notification>>;
    /// The notifications of `source` with ids `first..=last` (a fan-out chunk).
    async fn by_source(
        &self,
        source: Source,
        first: NotificationId,
        last: NotificationId,
    ) -> AppResult<Vec<Notification>>;
}
