//! The open-report backlog as a gauge (`board_reports_open`): counted on one indexed column
//! (`report (status, …)`) every [`BACKLOG_EVERY`], and soon after this process opens or resolves a report;
//! beside it the bans in force (`board_bans_active`), category bans and board-wide blocks.
//! A count rather than opened-minus-resolved counters, which would drift across restarts and replicas.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use super::TrustService;
use crate::domain::reports::ReportStatus;
use crate::ports::QueueFilter;
use crate::telemetry::metrics;

/// How often every process counts the open reports, whatever happened.
pub const BACKLOG_EVERY: Duration = Duration::from_secs(30);

impl TrustService {
    /// Asks the backlog watcher to count again (many asks before it runs make one count).
    pub(super) fn backlog_changed(&self) {
        self.backlog.notify_one();
    }

    async fn bans_in_force(&self) -> crate::domain::AppResult<(i64, i64)> {
        self.bans.count_in_force(self.clock.now()).await
    }

    async fn open_reports(&self) -> crate::domain::AppResult<i64> {
        self.reports
            .count(&QueueFilter {
                status: ReportStatus::Open,
                categories: None,
            })
            .await
    }
}

/// Counts the open reports now, then every `every` and whenever a report was opened or resolved here,
/// for as long as `trust` lives. A failed count is logged and leaves the last value.
pub async fn watch_backlog(trust: Weak<TrustService>, every: Duration) {
    let changed: Arc<Notify> = match trust.upgrade() {
        Some(trust) => Arc::clone(&trust.backlog),
        None => return,
    };
    loop {
        {
            let Some(trust) = trust.upgrade() else { return };
            match trust.open_reports().await {
                Ok(count) => metrics::reports_open(count),
                Err(err) => tracing::warn!(error = %err, "could not count the open reports"),
            }
            match trust.bans_in_force().await {
                Ok((category, board)) => metrics::bans_active(category, board),
                Err(err) => tracing::warn!(error = %err, "could not count the bans in force"),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = changed.notified() => {}
        }
    }
}
