//! Trust and safety beside the moderation of content ([`crate::app::moderation`]): category bans ([`bans`])
//! and the report queue. Rights are the moderation rights: a moderator's cover their category and its
//! descendants; admins moderate everywhere.

mod backlog;
mod bans;
mod reports;

use std::sync::Arc;

use tokio::sync::Notify;

pub use backlog::{BACKLOG_EVERY, watch_backlog};

use super::inbox::OutboxWake;
use super::rate_limit::Limiter;
use super::{AccountService, BoardService};
use crate::domain::{AppError, AppResult, CategoryId, User};
use crate::ports::{BanRepo, Clock, ReportRepo};

pub struct TrustService {
    bans: Arc<dyn BanRepo>,
    reports: Arc<dyn ReportRepo>,
    accounts: Arc<AccountService>,
    board: Arc<BoardService>,
    clock: Arc<dyn Clock>,
    /// The report budget per member.
    limiter: Arc<Limiter>,
    /// Told when the open reports changed ([`watch_backlog`] counts them again).
    backlog: Arc<Notify>,
    /// Nudged after a resolution or a ban (they notify members).
    outbox: OutboxWake,
}

/// The repositories moderation writes.
pub struct TrustRepos {
    pub bans: Arc<dyn BanRepo>,
    pub reports: Arc<dyn ReportRepo>,
}

impl TrustService {
    pub fn new(
        repos: TrustRepos,
        accounts: Arc<AccountService>,
        board: Arc<BoardService>,
        clock: Arc<dyn Clock>,
        limiter: Arc<Limiter>,
        outbox: OutboxWake,
    ) -> Self {
        Self {
            bans: repos.bans,
            reports: repos.reports,
            accounts,
            board,
            clock,
            limiter,
            backlog: Arc::new(Notify::new()),
            outbox,
        }
    }

    /// The same service over these (re-cached) account and board services.
    pub fn with_services(&self, accounts: Arc<AccountService>, board: Arc<BoardService>) -> Self {
        Self {
            bans: Arc::clone(&self.bans),
            reports: Arc::clone(&self.reports),
            accounts,
            board,
            clock: Arc::clone(&self.clock),
            limiter: Arc::clone(&self.limiter),
            backlog: Arc::clone(&self.backlog),
            outbox: self.outbox.clone(),
        }
    }

    /// Whether `actor` may moderate `category` (and so its descendants): [`BoardService::may_moderate`].
    pub async fn may_moderate(&self, actor: &User, category: CategoryId) -> AppResult<bool> {
        self.board.may_moderate(Some(actor), category).await
    }

    async fn require_moderator(&self, actor: &User, category: CategoryId) -> AppResult<()> {
        self.board.require_moderator(actor, category).await
    }

    async fn existing_category(&self, field: &str, id: CategoryId) -> AppResult<()> {
        if self.board.category_tree().await?.get(id).is_some() {
            Ok(())
        } else {
            Err(AppError::invalid(field, "no such category"))
        }
    }
}
