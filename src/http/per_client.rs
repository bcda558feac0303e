//! What one client may hold open at once, counted by its address: HTTP connections (by peer address) and
//! subscription sockets (by the client address a trusted proxy names). One address cannot take every slot
//! (a few hundred slow or idle sockets from one host would otherwise lock every other client out).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// Counts what each address holds open; [`PerClient::enter`] hands out a slot while the address is under
/// its cap.
#[derive(Debug)]
pub struct PerClient<A: Hash + Eq> {
    cap: usize,
    open: Mutex<HashMap<A, usize>>,
}

/// One open connection or socket of an address; the count goes down when it is dropped.
#[derive(Debug)]
pub struct ClientSlot<A: Hash + Eq> {
    clients: Arc<PerClient<A>>,
    address: A,
}

impl<A: Hash + Eq + Clone> PerClient<A> {
    /// At most `cap` slots per address (zero: none).
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for `address`, or `None` when it already has `cap` open.
    pub fn enter(self: &Arc<Self>, address: A) -> Option<ClientSlot<A>> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.cap == 0 {
            return None;
        }
        let count = open.entry(address.clone()).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            clients: Arc::clone(self),
            address,
        })
    }

    /// Open slots of `address`.
    #[cfg(test)]
    pub fn open(&self, address: &A) -> usize {
        let open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        open.get(address).copied().unwrap_or(0)
    }

    /// Addresses with at least one open connection (the map never keeps an address with none).
    #[cfg(test)]
    pub fn addresses(&self) -> usize {
        self.open.lock().map(|open| open.len()).unwrap_or(0)
    }
}

impl<A: Hash + Eq> Drop for ClientSlot<A> {
    fn drop(&mut self) {
        let mut open = self
            .clients
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    #[test]
    fn an_address_gets_at_most_cap_slots_and_others_are_unaffected() {
        let clients = PerClient::<IpAddr>::new(2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = clients.enter(a).unwrap();
        let _second = clients.enter(a).unwrap();
        assert!(
            clients.enter(a).is_none(),
            "a third connection of one address"
        );
        assert!(
            clients.enter(b).is_some(),
            "another address has its own count"
        );
        drop(first);
        assert_eq!(clients.open(&a), 1);
        assert!(
            clients.enter(a).is_some(),
            "a closed connection frees its slot"
        );
    }

    #[test]
    fn addresses_without_connections_are_forgotten() {
        let clients = PerClient::<IpAddr>::new(1);
        let slots: Vec<_> = (0..100u8)
            .map(|n| clients.enter(IpAddr::from([10, 0, 1, n])).unwrap())
            .collect();
        assert_eq!(clients.addresses(), 100);
        drop(slots);
        assert_eq!(
            clients.addresses(),
            0,
            "the map does not grow with every address ever seen"
        );
    }

    #[test]
    fn slots_are_counted_exactly_under_contention() {
        let clients = PerClient::<IpAddr>::new(8);
        let address: IpAddr = "10.0.0.3".parse().unwrap();
        let barrier = Arc::new(std::sync::Barrier::new(32));
        let handles: Vec<_> = (0..32)
            .map(|_| {
                let (clients, barrier) = (Arc::clone(&clients), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    clients.enter(address)
                })
            })
            .collect();
        let slots: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(slots.iter().filter(|s| s.is_some()).count(), 8);
        drop(slots);
        assert_eq!(clients.open(&address), 0);
    }

    #[test]
    fn a_cap_of_zero_admits_nobody() {
        let clients = PerClient::<String>::new(0);
        assert!(clients.enter("10.0.0.4".to_owned()).is_none());
        assert_eq!(clients.addresses(), 0);
    }
}
