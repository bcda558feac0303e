//! The database time searches may take: one budget per request for all its search statements (from the
//! request's start), and a share of the pool per process. Why and how: docs/search-plan.md#the-budget.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::{AppError, AppResult};
use crate::telemetry::metrics;

/// The database time searches may take: per request, `search_statement_ms` from the request's start for
/// all its search statements together; per process, `search_concurrency` statements at once, so a flood of
/// expensive searches waits for a turn rather than taking every connection of the pool from other reads.
pub(super) struct SearchBudget {
    per_request: Duration,
    permits: Arc<Semaphore>,
}

impl SearchBudget {
    pub(super) fn new(per_request: Duration, concurrency: usize) -> Self {
        Self {
            per_request,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// What is left of the running request's budget (all of it outside a request).
    fn left(&self) -> Duration {
        crate::request::started().map_or(self.per_request, |started| {
            self.per_request.saturating_sub(started.elapsed())
        })
    }

    /// A permit for one statement, waited for within what is left of the budget, and the time left for
    /// the statement; `SERVICE_UNAVAILABLE` when no turn came in time or nothing is left.
    pub(super) async fn admit(&self) -> AppResult<(Duration, OwnedSemaphorePermit)> {
        let ms = self.per_request.as_millis();
        let turn =
            tokio::time::timeout(self.left(), Arc::clone(&self.permits).acquire_owned()).await;
        let Ok(Ok(permit)) = turn else {
            metrics::search_plan("stopped");
            return Err(AppError::Unavailable(format!(
                "searches are busy: this one found no turn within {ms} ms; retry shortly, or search for a \
                 longer or more specific term"
            )));
        };
        let left = self.left();
        if left.is_zero() {
            return Err(stopped(ms as u64));
        }
        Ok((left, permit))
    }
}

/// The answer to a search stopped at its budget (here, or by MariaDB's `max_statement_time`).
pub(super) fn stopped(budget_ms: u64) -> AppError {
    metrics::search_plan("stopped");
    AppError::Unavailable(format!(
        "the search did not finish within {budget_ms} ms and was stopped; search for a longer or more \
         specific term"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::RequestState;

    #[tokio::test]
    async fn statements_wait_for_a_turn_within_the_request_budget() {
        let budget = SearchBudget::new(Duration::from_millis(300), 1);
        let (left, held) = budget.admit().await.unwrap();
        assert!(left <= Duration::from_millis(300));
        // The only permit is held: the next statement waits, then gives up within the budget.
        let refused = budget.admit().await.map(|_| ());
        assert!(
            matches!(refused, Err(AppError::Unavailable(_))),
            "{refused:?}"
        );
        drop(held);
        assert!(
            budget.admit().await.is_ok(),
            "a released permit is a turn again"
        );
    }

    #[tokio::test]
    async fn a_request_spends_one_budget_over_all_its_statements() {
        let budget = SearchBudget::new(Duration::from_millis(200), 4);
        // A request that began long enough ago has nothing left, whatever the permits.
        let late = RequestState::begin();
        tokio::time::sleep(Duration::from_millis(250)).await;
        let late = late.run(budget.admit()).await;
        assert!(matches!(late, Err(AppError::Unavailable(_))));
        // One that began just now gets the rest of its budget for its statement.
        let fresh = RequestState::begin().run(budget.admit()).await;
        let (left, _permit) = fresh.unwrap();
        assert!(left > Duration::from_millis(100) && left <= Duration::from_millis(200));
    }
}
