//! What operations cost: the cost of an operation is its field cost under the IBM GraphQL Cost Directives,
//! with the weights and list sizes the schema declares (`@cost`, `@listSize`: [`directives`]), read back from
//! the printed schema ([`plan`]) and computed per operation ([`analysis`]) once it validated. It is bounded
//! by `max_complexity`, spent from the points budget of the viewer or the anonymous client before the
//! operation runs, and every response says what it cost (`extensions.cost`). The model, the budget and its
//! headers: docs/cost.md.

pub mod analysis;
pub mod directives;
pub mod plan;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::extensions::{
    Extension, ExtensionContext, NextParseQuery, NextPrepareRequest, NextRequest, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};

use crate::app::rate_limit::{Limiter, Points, PointsRefused, Spender};
use async_graphql::ErrorExtensions;

use crate::domain::UserId;

/// The points of one HTTP request: whose budget its operations spend, and the budget after the latest
/// spending (for the headers and `Query.rateLimit`). Shared by the operations of a batch.
pub struct CostLedger {
    limiter: Arc<Limiter>,
    client_ip: String,
    /// Set once the viewer is known (after authentication); until then, and for anonymous requests, the
    /// client address pays.
    spender: OnceLock<Spender>,
    /// (cost, budget after it) of the latest spending of this request.
    latest: Mutex<Option<(u64, Points)>>,
    /// The budget was put in the data of an answer (`Query.rateLimit`): that answer may not be kept.
    in_data: AtomicBool,
}

impl CostLedger {
    pub fn new(limiter: Arc<Limiter>, client_ip: &str) -> Arc<Self> {
        Arc::new(Self {
            limiter,
            client_ip: client_ip.to_owned(),
            spender: OnceLock::new(),
            latest: Mutex::new(None),
            in_data: AtomicBool::new(false),
        })
    }

    /// The request's viewer once known (`None`: anonymous, the client address pays).
    pub fn identify(&self, viewer: Option<UserId>) {
        let spender = match viewer {
            Some(id) => Spender::Member(id),
            None => Spender::Client(self.client_ip.clone()),
        };
        let _ = self.spender.set(spender);
    }

    fn spender(&self) -> Spender {
        self.spender
            .get()
            .cloned()
            .unwrap_or_else(|| Spender::Client(self.client_ip.clone()))
    }

    /// Remembers the budget after a spending, unless one noted before is already further along (the
    /// operations of a batch spend concurrently: the count that is highest is the latest).
    fn note(&self, cost: u64, points: Points) {
        if let Ok(mut latest) = self.latest.lock() {
            let further = latest.is_some_and(|(_, seen)| {
                (seen.reset_at, seen.used) > (points.reset_at, points.used)
            });
            if !further {
                *latest = Some((cost, points));
            }
        }
    }

    /// Spends `cost` points before an operation runs; the refusal as the error the operation answers
    /// (`RATE_LIMITED` with `retryAfterSeconds`, or `QUERY_TOO_COMPLEX` when no window could pay for it).
    ///
    /// # Errors
    /// The budget cannot pay for it now.
    pub async fn spend(&self, cost: u64) -> Result<Points, (Points, async_graphql::Error)> {
        let now = chrono::Utc::now();
        let spender = self.spender();
        let spent = crate::request::budgeting(self.limiter.spend_points(&spender, cost, now)).await;
        match spent {
            Ok(points) => {
                self.note(cost, points);
                Ok(points)
            }
            Err(PointsRefused::Exhausted {
                points,
                retry_after_seconds,
            }) => {
                self.note(0, points);
                let message = format!(
                    "this operation costs {cost} points and {} of {} are left in this window; retry in {retry_after_seconds} s",
                    points.remaining(),
                    points.limit
                );
                let error = async_graphql::Error::new(message).extend_with(|_, ext| {
                    ext.set("code", "RATE_LIMITED");
                    ext.set("retryAfterSeconds", retry_after_seconds);
                });
                Err((points, error))
            }
            Err(PointsRefused::TooCostly { points }) => {
                self.note(0, points);
                let message = format!(
                    "this operation costs {cost} points, more than the {} points of a whole window; ask for fewer objects",
                    points.limit
                );
                let error = async_graphql::Error::new(message)
                    .extend_with(|_, ext| ext.set("code", "QUERY_TOO_COMPLEX"));
                Err((points, error))
            }
        }
    }

    /// [`CostLedger::latest`] for the data of the answer (`Query.rateLimit`): numbers that change with
    /// every request, so the answer is not kept.
    pub async fn latest_in_data(&self) -> (u64, Points) {
        self.in_data.store(true, Ordering::Release);
        self.latest().await
    }

    /// Whether the budget is in the data of the answer (then it may not be kept).
    pub fn in_data(&self) -> bool {
        self.in_data.load(Ordering::Acquire)
    }

    /// (cost, budget) after the latest spending of this request, or the budget as it stands (cost 0)
    /// when nothing was spent.
    pub async fn latest(&self) -> (u64, Points) {
        let latest = self.latest.lock().ok().and_then(|l| *l);
        match latest {
            Some(latest) => latest,
            None => {
                let spender = self.spender();
                let points = crate::request::budgeting(
                    self.limiter.points_left(&spender, chrono::Utc::now()),
                )
                .await;
                self.note(0, points);
                (0, points)
            }
        }
    }
}

/// `extensions.cost` of a response: what its operation cost and what is left of the budget.
pub fn cost_value(requested: u64, remaining: u64) -> async_graphql::Value {
    async_graphql::value!({ "requested": requested, "remaining": remaining })
}

/// Adds `extensions.cost` to every response that has none (an operation refused before validation spent
/// nothing: `requested` 0).
pub fn report_cost(responses: &mut [Response], remaining: u64) {
    for response in responses {
        response
            .extensions
            .entry("cost".to_owned())
            .or_insert_with(|| cost_value(0, remaining));
    }
}

/// What computes each operation's cost, bounds it (`max_complexity`) and spends it
/// once the operation validated (before it runs).
pub struct CostMeter {
    plan: Arc<plan::CostPlan>,
    max_cost: u64,
}

impl CostMeter {
    /// Operations costing more than `max_cost` are refused `QUERY_TOO_COMPLEX`.
    pub fn new(max_cost: usize) -> Self {
        Self {
            plan: plan::shared(),
            max_cost: max_cost as u64,
        }
    }
}

impl CostMeter {
    /// The meter of one operation (the engine creates the schema's extension once per execution:
    /// `graphql/extension.rs`).
    pub(crate) fn operation(&self) -> OperationCost {
        OperationCost {
            plan: Arc::clone(&self.plan),
            max_cost: self.max_cost,
            operation_name: OnceLock::new(),
            cost: OnceLock::new(),
            spent: OnceLock::new(),
        }
    }
}

pub(crate) struct OperationCost {
    plan: Arc<plan::CostPlan>,
    max_cost: u64,
    /// The operation the request names.
    operation_name: OnceLock<Option<String>>,
    /// Its cost, once its document parsed.
    cost: OnceLock<u64>,
    /// (cost, remaining) once spent or refused.
    spent: OnceLock<(u64, u64)>,
}

#[async_trait::async_trait]
impl Extension for OperationCost {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        if let Some((cost, remaining)) = self.spent.get() {
            response
                .extensions
                .insert("cost".to_owned(), cost_value(*cost, *remaining));
        }
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let _ = self.operation_name.set(request.operation_name.clone());
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let name = self.operation_name.get().and_then(Option::as_deref);
        let cost = analysis::operation_cost(&self.plan, &document, name, variables);
        let _ = self.cost.set(cost);
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let cost = self.cost.get().copied().unwrap_or(0);
        // Subscriptions over a socket carry no ledger: they are bounded per socket instead.
        let ledger = ctx.data_opt::<Arc<CostLedger>>();
        if cost > self.max_cost {
            if let Some(ledger) = ledger {
                let (_, points) = ledger.latest().await;
                let _ = self.spent.set((cost, points.remaining()));
            }
            let message = format!(
                "this operation costs {cost} points, more than the {} one operation may cost; ask for fewer \
                 objects (docs/cost.md)",
                self.max_cost
            );
            let error = async_graphql::Error::new(message)
                .extend_with(|_, ext| ext.set("code", "QUERY_TOO_COMPLEX"));
            return Err(vec![error.into_server_error(Default::default())]);
        }
        let Some(ledger) = ledger else {
            return Ok(result);
        };
        match ledger.spend(cost).await {
            Ok(points) => {
                let _ = self.spent.set((cost, points.remaining()));
                Ok(result)
            }
            Err((points, error)) => {
                let _ = self.spent.set((cost, points.remaining()));
                Err(vec![error.into_server_error(Default::default())])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::adapters::cache::MemoryCache;
    use crate::app::rate_limit::Limits;

    fn ledger() -> Arc<CostLedger> {
        let memory = || Arc::new(MemoryCache::new(100, 1 << 20));
        let limits = Limits {
            per_account: 1,
            per_client: 1,
            sign_ups_per_client: 1,
            edits_per_user: 1,
            creates_per_user: 1,
            reports_per_user: 1,
            window: Duration::from_secs(60),
            points_per_window: 100,
            points_window: Duration::from_secs(60),
        };
        CostLedger::new(
            Arc::new(Limiter::new(memory(), memory(), "t", limits)),
            "10.0.0.1",
        )
    }

    fn points(used: u64, window_end: i64) -> Points {
        Points {
            limit: 100,
            used,
            window_secs: 60,
            reset_at: Utc.timestamp_opt(window_end, 0).unwrap(),
        }
    }

    #[tokio::test]
    async fn the_furthest_count_of_concurrent_spendings_is_the_latest() {
        let ledger = ledger();
        // A batch's operations finish in any order: the one that counted 24 was later than the one at 12.
        ledger.note(12, points(24, 600));
        ledger.note(12, points(12, 600));
        assert_eq!(ledger.latest().await.1.used, 24);
        // A new window is later whatever its count.
        ledger.note(1, points(1, 660));
        assert_eq!(ledger.latest().await, (1, points(1, 660)));
    }

    #[tokio::test]
    async fn a_viewer_spends_their_own_budget_and_nothing_spent_reads_it() {
        let ledger = ledger();
        ledger.identify(Some(UserId(7)));
        assert_eq!(ledger.spend(30).await.unwrap().used, 30);
        let anonymous = CostLedger::new(Arc::clone(&ledger.limiter), "10.0.0.1");
        assert_eq!(
            anonymous.latest().await.1.used,
            0,
            "the client's budget is apart"
        );
        assert!(!anonymous.in_data());
        assert_eq!(anonymous.latest_in_data().await.0, 0);
        assert!(
            anonymous.in_data(),
            "an answer showing the budget is not kept"
        );
        let (refused, _) = ledger.spend(71).await.unwrap_err();
        assert_eq!(refused.used, 30, "a refusal spends nothing");
    }
}
