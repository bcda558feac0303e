//! `RateLimit`: the points budget of the viewer, or of the anonymous client (docs/cost.md).

use async_graphql::SimpleObject;

use super::datetime::DateTime;
use crate::app::rate_limit::Points;

/// The points budget of the viewer (or, signed out, of the client's address): every operation spends its
/// cost (`extensions.cost.requested`) before it runs; past the budget operations are answered `RATE_LIMITED`
/// until `resetAt`.
#[derive(SimpleObject)]
pub struct RateLimit {
    /// Points per window.
    pub limit: i32,
    /// What this operation cost (asking only for `rateLimit` costs 1).
    pub cost: i32,
    /// Points left in this window, after this operation.
    pub remaining: i32,
    /// Points spent in this window, this operation included.
    pub used: i32,
    /// When the window ends and the budget is whole again.
    pub reset_at: DateTime,
}

fn int(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl RateLimit {
    pub fn new(cost: u64, points: &Points) -> Self {
        Self {
            limit: int(points.limit),
            cost: int(cost),
            remaining: int(points.remaining()),
            used: int(points.used),
            reset_at: DateTime(points.reset_at),
        }
    }
}
