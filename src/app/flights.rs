//! Reads in flight: concurrent reads of one key in this process (a cache entry, a whole answer) share one
//! read. A read joins only a flight that began at the near cache's current generation, so it never
//! receives what was read before a deletion it must see (docs/read-cache.md#reads-in-flight).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

/// What a flight lands for its followers.
pub type Landed<V> = watch::Receiver<Option<Arc<V>>>;

pub struct Flights<K, V> {
    by_key: Mutex<HashMap<K, Flight<V>>>,
}

struct Flight<V> {
    generation: u64,
    /// Who leads it (see [`Flights::board`]).
    leader: Option<usize>,
    landed: Landed<V>,
}

/// How one read of some keys takes part.
pub enum Boarding<'a, K: Hash + Eq, V> {
    /// Every key is being read by another read of this generation: wait for them (one per key).
    Follow(Vec<Landed<V>>),
    /// This read reads them all, and lands for others the keys it registered.
    Lead(Lead<'a, K, V>),
}

/// The keys a read registered; dropped without landing (an error, a cancelled request), its followers
/// read for themselves.
pub struct Lead<'a, K: Hash + Eq, V> {
    flights: &'a Flights<K, V>,
    keys: Vec<K>,
    sender: watch::Sender<Option<Arc<V>>>,
}

/// For [`Flights::board`], where values carry no finer version than the generation: a flight is joined
/// only at the generation it began at.
pub fn same_generation_only<K>(_began: u64, _key: &K) -> bool {
    false
}

impl<K, V> Default for Flights<K, V> {
    fn default() -> Self {
        Self {
            by_key: Mutex::default(),
        }
    }
}

impl<K: Hash + Eq + Clone, V> Flights<K, V> {
    /// Joins the flights of `keys` if each is in the air at `generation` (the near cache's generation now,
    /// after the read synced), or began at a generation its key is `current` since, and is led by someone
    /// else than `reader`; else leads every key not in the air so.
    ///
    /// A read that leads never waits for another: two reads that each waited on a key the other leads
    /// would wait forever. Nor does a read wait for its own request (`reader`): a request's DataLoader
    /// batches run while the rest of it waits (`graphql::batches`), so a batch waiting for a read of its
    /// own request would wait forever too.
    pub fn board(
        &self,
        generation: u64,
        reader: Option<usize>,
        keys: &[K],
        current: impl Fn(u64, &K) -> bool,
    ) -> Boarding<'_, K, V> {
        let mut by_key = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        let in_air = |flight: &Flight<V>, key: &K| {
            flight.generation == generation || current(flight.generation, key)
        };
        let joined: Option<Vec<_>> = keys
            .iter()
            .map(|key| match by_key.get(key) {
                Some(flight)
                    if in_air(flight, key) && (reader.is_none() || flight.leader != reader) =>
                {
                    Some(flight.landed.clone())
                }
                _ => None,
            })
            .collect();
        if let Some(receivers) = joined {
            return Boarding::Follow(receivers);
        }
        let (sender, landed) = watch::channel(None);
        let mut mine = Vec::new();
        for key in keys {
            if !by_key.get(key).is_some_and(|f| in_air(f, key)) {
                by_key.insert(
                    key.clone(),
                    Flight {
                        generation,
                        leader: reader,
                        landed: landed.clone(),
                    },
                );
                mine.push(key.clone());
            }
        }
        Boarding::Lead(Lead {
            flights: self,
            keys: mine,
            sender,
        })
    }

    #[cfg(test)]
    fn in_air(&self) -> usize {
        self.by_key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl<K: Hash + Eq, V> Lead<'_, K, V> {
    /// The keys this read registered (a subset of those it reads).
    pub fn keys(&self) -> &[K] {
        &self.keys
    }

    /// Hands what was read to the followers.
    pub fn land(self, value: Arc<V>) {
        // No follower is an error the sender may report; there is nothing to do about it.
        let _ = self.sender.send(Some(value));
    }
}

impl<K: Hash + Eq, V> Drop for Lead<'_, K, V> {
    fn drop(&mut self) {
        let mut by_key = self
            .flights
            .by_key
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for key in &self.keys {
            // A later read of a newer generation may have taken the key over: leave its flight alone.
            if by_key
                .get(key)
                .is_some_and(|f| f.landed.same_channel(&self.sender.subscribe()))
            {
                by_key.remove(key);
            }
        }
    }
}

/// What a flight landed, or `None` if it ended without landing.
pub async fn wait<V>(mut landed: Landed<V>) -> Option<Arc<V>> {
    landed.wait_for(Option::is_some).await.ok()?.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|&n| n.to_owned()).collect()
    }

    type Values = HashMap<String, String>;

    fn lead<'a>(boarding: Boarding<'a, String, Values>) -> Lead<'a, String, Values> {
        match boarding {
            Boarding::Lead(lead) => lead,
            Boarding::Follow(_) => panic!("followed"),
        }
    }

    fn follow(boarding: Boarding<'_, String, Values>) -> Vec<Landed<Values>> {
        match boarding {
            Boarding::Follow(receivers) => receivers,
            Boarding::Lead(_) => panic!("led"),
        }
    }

    #[tokio::test]
    async fn a_second_read_of_the_same_keys_waits_for_the_first() {
        let flights = Flights::<String, Values>::default();
        let first = lead(flights.board(7, None, &keys(&["a", "b"]), same_generation_only));
        let waiting = follow(flights.board(7, None, &keys(&["b"]), same_generation_only));
        let follower = tokio::spawn(async move {
            let mut values = Vec::new();
            for landed in waiting {
                values.push(wait(landed).await.and_then(|v| v.get("b").cloned()));
            }
            values
        });
        first.land(Arc::new(HashMap::from([
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "null".to_owned()),
        ])));
        assert_eq!(follower.await.unwrap(), vec![Some("null".to_owned())]);
        assert_eq!(flights.in_air(), 0, "landed flights leave");
    }

    #[tokio::test]
    async fn a_read_after_a_deletion_does_not_join_a_flight_from_before_it() {
        let flights = Flights::<String, Values>::default();
        let old = lead(flights.board(7, None, &keys(&["a"]), same_generation_only));
        // The generation moved on (a deletion): the next read leads a flight of its own.
        let new = lead(flights.board(8, None, &keys(&["a"]), same_generation_only));
        assert_eq!(new.keys(), ["a"]);
        // The old flight ends without disturbing the new one, which later reads join.
        drop(old);
        follow(flights.board(8, None, &keys(&["a"]), same_generation_only));
        drop(new);
        assert_eq!(flights.in_air(), 0);
    }

    #[tokio::test]
    async fn a_read_after_a_deletion_of_other_keys_joins_a_flight_from_before_it() {
        let flights = Flights::<String, Values>::default();
        let first = lead(flights.board(7, None, &keys(&["a", "b"]), same_generation_only));
        // Since 7, "b" was deleted, "a" was not.
        let current = |began: u64, key: &String| began >= 7 && key == "a";
        follow(flights.board(9, None, &keys(&["a"]), current));
        let again = lead(flights.board(9, None, &keys(&["a", "b"]), current));
        assert_eq!(again.keys(), ["b"], "only the deleted key is read again");
        drop(first);
        drop(again);
        assert_eq!(flights.in_air(), 0);
    }

    #[tokio::test]
    async fn a_read_with_a_key_nobody_reads_leads_and_never_waits() {
        let flights = Flights::<String, Values>::default();
        let _first = lead(flights.board(1, None, &keys(&["a"]), same_generation_only));
        let second = lead(flights.board(1, None, &keys(&["a", "b"]), same_generation_only));
        assert_eq!(
            second.keys(),
            ["b"],
            "only the key not in the air is its own"
        );
    }

    #[tokio::test]
    async fn a_read_never_waits_for_its_own_request() {
        let flights = Flights::<String, Values>::default();
        let _first = lead(flights.board(1, Some(7), &keys(&["a"]), same_generation_only));
        // The same request (a DataLoader batch while the rest of it waits): it reads for itself.
        let again = lead(flights.board(1, Some(7), &keys(&["a"]), same_generation_only));
        assert!(again.keys().is_empty(), "the key stays the first read's");
        // Another request joins.
        follow(flights.board(1, Some(8), &keys(&["a"]), same_generation_only));
    }

    #[tokio::test]
    async fn followers_of_a_flight_that_never_lands_read_for_themselves() {
        let flights = Flights::<String, Values>::default();
        let first = lead(flights.board(1, None, &keys(&["a"]), same_generation_only));
        let waiting = follow(flights.board(1, None, &keys(&["a"]), same_generation_only));
        drop(first);
        for landed in waiting {
            assert!(wait(landed).await.is_none());
        }
        assert_eq!(flights.in_air(), 0);
    }
}
