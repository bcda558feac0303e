//! What the Redis feed hears for the cache: deletions announced by any process and this process's sync
//! marks, turned into [`Invalidation`]s for the near caches (docs/read-cache.md#the-feed).

use tokio::sync::broadcast;

use crate::adapters::redis_feed::Listener;
use crate::ports::Invalidation;

/// The feed's listener for deletions and this process's marks, turned into [`Invalidation`]s.
pub(super) struct Announcements {
    pub(super) marks: String,
    pub(super) out: broadcast::Sender<Invalidation>,
}

impl Listener for Announcements {
    fn message(&self, channel: &str, text: &str) {
        let invalidation = if channel == self.marks {
            match text.parse() {
                Ok(n) => Invalidation::Marked(n),
                Err(_) => return,
            }
        } else {
            Invalidation::Keys(text.split('\n').map(str::to_owned).collect())
        };
        let _ = self.out.send(invalidation);
    }

    fn lost(&self) {
        let _ = self.out.send(Invalidation::Lost);
    }

    fn live(&self) {
        let _ = self.out.send(Invalidation::Live);
    }
}
