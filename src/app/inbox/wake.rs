//! The nudge a committed write gives this process's fan-out, so its notifications go out at once rather
//! than at the next sweep.

use std::sync::Arc;

use tokio::sync::Notify;

/// Cloned into every service whose writes add outbox entries; many nudges before the fan-out runs make
/// one run.
#[derive(Clone, Default)]
pub struct OutboxWake(Arc<Notify>);

impl OutboxWake {
    /// After the write committed and its cache keys were forgotten.
    pub fn written(&self) {
        self.0.notify_one();
    }

    pub(super) async fn notified(&self) {
        self.0.notified().await;
    }
}

impl std::fmt::Debug for OutboxWake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutboxWake")
    }
}
