//! Points leased from the shared counters: a process adds a share of a spender's budget to the shared
//! counter at once and spends it here, so most operations spend their cost without a round trip. What it
//! costs across replicas and why it never loosens a limit: docs/cost.md#leases.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// Past this many leases, those of windows that ended are dropped before a new one is held (and past twice
/// as many as were left then, next time).
const PRUNE_AT: usize = 4_096;
/// At most this many leases are held; past it a grant is spent at once and its rest is given up (spent
/// points, never free ones: the limit only gets stricter).
const MAX_LEASES: usize = 100_000;

/// Points of one counter (one spender's window) added to the shared counter by this process and not
/// spent yet.
#[derive(Debug, Clone, Copy)]
struct Lease {
    /// Not spent yet.
    left: u64,
    /// The shared counter after the latest grant (every process's spending and leases until then).
    total: u64,
    /// When the counter's window ends.
    ends: DateTime<Utc>,
}

/// Turns are striped over this many locks (budgets that share one wait for each other's share).
const TURNS: usize = 64;

pub(super) struct Leases {
    held: Mutex<Held>,
    /// Whose turn it is to add a share, by stripe of the counter's key.
    turns: [tokio::sync::Mutex<()>; TURNS],
}

impl Default for Leases {
    fn default() -> Self {
        Self {
            held: Mutex::default(),
            turns: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
        }
    }
}

#[derive(Default)]
struct Held {
    leases: HashMap<String, Lease>,
    /// The number of leases at which those of ended windows are dropped next.
    prune_at: usize,
}

impl Held {
    /// Drops the leases of windows ended by `now` once there are many.
    fn prune(&mut self, now: DateTime<Utc>) {
        if self.leases.len() >= self.prune_at.max(PRUNE_AT) {
            self.leases.retain(|_, lease| lease.ends > now);
            self.prune_at = self.leases.len() * 2;
        }
    }
}

impl Leases {
    /// Spends `cost` of the lease of `key`: the points used as this process knows them, or `None` when the
    /// lease does not hold `cost` (nothing is spent then).
    pub(super) fn take(&self, key: &str, cost: u64) -> Option<u64> {
        let mut held = self.held.lock().ok()?;
        let lease = held.leases.get_mut(key)?;
        if lease.left < cost {
            return None;
        }
        lease.left -= cost;
        Some(lease.total.saturating_sub(lease.left))
    }

    /// The turn of `key` to add a share: held while the share is asked for, so one process adds one
    /// share at a time per budget.
    pub(super) async fn turn(&self, key: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let stripe = BuildHasherDefault::<DefaultHasher>::default().hash_one(key) as usize % TURNS;
        self.turns[stripe].lock().await
    }

    /// Whether a lease of `key` is held or may be (dropping those of windows ended by `now` when many
    /// are held).
    pub(super) fn room_for(&self, key: &str, now: DateTime<Utc>) -> bool {
        let Ok(mut held) = self.held.lock() else {
            return false;
        };
        if held.leases.contains_key(key) {
            return true;
        }
        held.prune(now);
        held.leases.len() < MAX_LEASES
    }

    /// Points of `key` held and not spent.
    pub(super) fn held(&self, key: &str) -> u64 {
        self.held
            .lock()
            .ok()
            .and_then(|held| held.leases.get(key).map(|lease| lease.left))
            .unwrap_or(0)
    }

    /// Holds `granted` points just added to the counter of `key` (which then stood at `total`), and spends
    /// `cost` of what the lease holds now: the points used as this process knows them, or `None` when even
    /// now it does not hold `cost` (concurrent operations spent what was held meanwhile; the grant stays
    /// held).
    pub(super) fn grant(
        &self,
        key: &str,
        granted: u64,
        total: u64,
        cost: u64,
        ends: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<u64> {
        let Ok(mut held) = self.held.lock() else {
            // Nothing can be held: the grant is spent (or given up) at once.
            return (granted >= cost).then_some(total.saturating_sub(granted - cost));
        };
        if !held.leases.contains_key(key) {
            held.prune(now);
            if held.leases.len() >= MAX_LEASES {
                return (granted >= cost).then_some(total.saturating_sub(granted - cost));
            }
        }
        let lease = held.leases.entry(key.to_owned()).or_insert(Lease {
            left: 0,
            total,
            ends,
        });
        lease.left += granted;
        lease.total = lease.total.max(total);
        if lease.left < cost {
            return None;
        }
        lease.left -= cost;
        Some(lease.total.saturating_sub(lease.left))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.held.lock().map(|held| held.leases.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn a_grant_is_spent_here_until_it_no_longer_holds_the_cost() {
        let leases = Leases::default();
        assert_eq!(leases.take("k", 1), None, "nothing held yet");
        // 100 points added to a counter that other processes had brought to 40: it stands at 140.
        assert_eq!(leases.grant("k", 100, 140, 30, at(60), at(0)), Some(70));
        assert_eq!(leases.held("k"), 70);
        assert_eq!(leases.take("k", 30), Some(100));
        assert_eq!(leases.take("k", 30), Some(130));
        assert_eq!(leases.take("k", 30), None, "10 left: nothing is spent");
        assert_eq!(leases.held("k"), 10);
        // The next grant adds to what is left: 10 + 25 pays for 30.
        assert_eq!(leases.grant("k", 25, 170, 30, at(60), at(1)), Some(165));
        assert_eq!(leases.held("k"), 5);
        assert_eq!(leases.held("other"), 0);
    }

    #[test]
    fn a_grant_too_small_for_the_cost_stays_held() {
        let leases = Leases::default();
        assert_eq!(leases.grant("k", 5, 5, 8, at(60), at(0)), None);
        assert_eq!(leases.held("k"), 5);
        assert_eq!(leases.grant("k", 8, 13, 8, at(60), at(0)), Some(8));
        assert_eq!(leases.held("k"), 5);
    }

    #[test]
    fn leases_of_ended_windows_are_dropped_and_their_number_is_bounded() {
        let leases = Leases::default();
        for i in 0..PRUNE_AT {
            leases.grant(&format!("old{i}"), 10, 10, 1, at(60), at(0));
        }
        assert_eq!(leases.len(), PRUNE_AT);
        // A new window: the old leases go when the next one is held.
        assert_eq!(leases.grant("new", 10, 10, 1, at(120), at(61)), Some(1));
        assert_eq!(leases.len(), 1);
        for i in 0..MAX_LEASES {
            leases.grant(&format!("live{i}"), 10, 10, 1, at(120), at(62));
        }
        assert_eq!(leases.len(), MAX_LEASES);
        // Full: no room for a new lease (its spender is then not given a share); a held one keeps its room.
        assert!(!leases.room_for("late", at(62)));
        assert!(leases.room_for("live7", at(62)));
        // A grant that comes anyway is spent at once, its rest given up (counted, never free).
        assert_eq!(leases.grant("late", 10, 50, 4, at(120), at(62)), Some(44));
        assert_eq!(leases.held("late"), 0);
        assert_eq!(leases.len(), MAX_LEASES);
    }
}
