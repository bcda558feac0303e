//! Deletions that may not have reached the namespace the other processes read: sent while this process had
//! not verified the primary (they went to the namespace verified last), or refused (the breaker, an error).
//! Their keys are deleted again once a namespace is verified (docs/read-cache.md#failover).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::{DELETE_TIMEOUT, RedisCache};
use crate::ports::Deletion;

/// How often deletions made before the primary was verified are tried again.
const REPLAY_EVERY: Duration = Duration::from_millis(100);

/// At most this many keys wait; beyond it a deletion is lost (and logged), as before this set existed.
const LIMIT: usize = 100_000;

#[derive(Default)]
pub(super) struct Unsettled {
    keys: HashSet<String>,
}

impl Unsettled {
    /// Keeps `keys` to delete again; answers how many did not fit.
    pub(super) fn keep(&mut self, keys: impl IntoIterator<Item = String>) -> usize {
        let mut lost = 0;
        for key in keys {
            if self.keys.len() < LIMIT || self.keys.contains(&key) {
                self.keys.insert(key);
            } else {
                lost += 1;
            }
        }
        lost
    }

    /// Every key kept, which the caller deletes (and keeps again if that fails).
    pub(super) fn take(&mut self) -> Vec<String> {
        self.keys.drain().collect()
    }
}

impl RedisCache {
    pub(super) fn unsettled(&self) -> std::sync::MutexGuard<'_, Unsettled> {
        self.unsettled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn keep_unsettled(&self, keys: Vec<String>) {
        let lost = self.unsettled().keep(keys);
        if lost > 0 {
            tracing::warn!(
                lost,
                "cache: too many deletions wait for a verified primary; some are lost"
            );
        }
    }

    /// Deletes again, every `REPLAY_EVERY`, the keys of deletions made before the primary was verified or
    /// that failed, once a primary is verified (docs/read-cache.md#failover). Stops with the cache.
    pub fn replay_deletions(self: &Arc<Self>) {
        let cache = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REPLAY_EVERY).await;
                let Some(cache) = cache.upgrade() else {
                    break;
                };
                if cache.primary.reading().is_none() {
                    continue;
                }
                let keys = cache.unsettled().take();
                if keys.is_empty() {
                    continue;
                }
                match cache.delete_now(&keys, Deletion::All, DELETE_TIMEOUT).await {
                    Ok(_) => tracing::info!(
                        keys = keys.len(),
                        "cache: deletions made before the primary was verified, made again"
                    ),
                    Err(_) => cache.keep_unsettled(keys),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_keys_are_taken_once_and_duplicates_count_once() {
        let mut unsettled = Unsettled::default();
        assert_eq!(
            unsettled.keep(["a".to_owned(), "b".to_owned(), "a".to_owned()]),
            0
        );
        let mut taken = unsettled.take();
        taken.sort();
        assert_eq!(taken, ["a", "b"]);
        assert!(unsettled.take().is_empty());
    }

    #[test]
    fn beyond_the_limit_keys_are_counted_lost_but_known_ones_still_fit() {
        let mut unsettled = Unsettled::default();
        assert_eq!(unsettled.keep((0..LIMIT).map(|n| n.to_string())), 0);
        assert_eq!(unsettled.keep(["new".to_owned(), "7".to_owned()]), 1);
        assert_eq!(unsettled.take().len(), LIMIT);
    }
}
