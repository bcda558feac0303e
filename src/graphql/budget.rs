//! The response's text budget: the long strings of an answer (titles, contents, revisions) are counted
//! against `max_response_bytes` while the engine resolves them, so a small request asking for hundreds of
//! megabytes stops after about the cap instead of building the whole answer in memory first (the encoder's
//! cap would only refuse it after that). Shared by the operations of one HTTP request (a batch is one body).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_graphql::ErrorExtensions;

use super::errors::GqlResult;

/// What is left of a request's text budget.
#[derive(Debug)]
pub struct TextBudget {
    cap: usize,
    left: AtomicUsize,
    exceeded: AtomicBool,
}

/// The message of the error that replaces an answer over the cap (here and in the encoder).
pub fn too_large_message(cap: usize) -> String {
    format!("the response would be larger than {cap} bytes; ask for fewer objects or fields")
}

impl TextBudget {
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            left: AtomicUsize::new(cap),
            exceeded: AtomicBool::new(false),
        }
    }

    /// No bound (for sockets, whose messages have their own).
    pub fn unlimited() -> Self {
        Self::new(usize::MAX)
    }

    /// Takes `bytes` from the budget, or answers `QUERY_TOO_COMPLEX` (and stays exceeded: every later
    /// charge of the request fails too) when they do not fit.
    pub fn charge(&self, bytes: usize) -> GqlResult<()> {
        let taken = self
            .left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(bytes)
            });
        if taken.is_err() || self.exceeded.load(Ordering::Acquire) {
            self.exceeded.store(true, Ordering::Release);
            return Err(async_graphql::Error::new(too_large_message(self.cap))
                .extend_with(|_, ext| ext.set("code", "QUERY_TOO_COMPLEX")));
        }
        Ok(())
    }

    /// Whether a charge failed: the answer is replaced by the error.
    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn charges_fit_until_the_cap_and_then_every_charge_fails() {
        let budget = TextBudget::new(100);
        assert!(budget.charge(60).is_ok());
        assert!(budget.charge(40).is_ok(), "exactly the cap fits");
        assert!(!budget.exceeded());
        let err = budget.charge(1).unwrap_err();
        assert!(budget.exceeded());
        assert!(err.message.contains("100 bytes"), "{}", err.message);
        // A small charge after a refused one fails too: the answer is refused as a whole.
        assert!(budget.charge(0).is_err());
    }

    #[test]
    fn concurrent_charges_never_take_more_than_the_cap() {
        let budget = Arc::new(TextBudget::new(1_000));
        let barrier = Arc::new(std::sync::Barrier::new(16));
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let (budget, barrier) = (Arc::clone(&budget), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    (0..10).filter(|_| budget.charge(10).is_ok()).count()
                })
            })
            .collect();
        let granted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert!(
            granted <= 100,
            "{granted} charges of 10 under a cap of 1 000"
        );
        assert!(budget.exceeded());
    }

    #[test]
    fn unlimited_never_refuses() {
        let budget = TextBudget::unlimited();
        assert!(budget.charge(usize::MAX / 2).is_ok());
        assert!(!budget.exceeded());
    }
}
