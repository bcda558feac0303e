//! Use cases. Each one validates input with the domain rules, writes through the ports in one transaction,
//! and invalidates the affected cache keys after commit.

pub mod accounts;
pub mod board;
pub mod cache_aside;
pub mod flights;
pub mod inbox;
pub mod near_cache;
pub mod persisted;
pub mod rate_limit;
pub mod trust;

pub use accounts::{
    AccountPorts, AccountService, AuthSession, OUTSIDE_CHANGES_EVERY, follow_outside_changes,
};
pub use board::moderation;
pub use board::{BoardRepos, BoardService, ReadReplica};
pub use cache_aside::CacheAside;
pub use inbox::{InboxPorts, InboxService, InboxSettings, OutboxWake, run_outbox};
pub use persisted::{PersistedQueries, TrustedDocuments};
pub use trust::{BACKLOG_EVERY, TrustRepos, TrustService, watch_backlog};
