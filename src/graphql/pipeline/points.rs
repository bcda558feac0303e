//! The points budget in the pipeline: `extensions.cost` of every response, the budget the transport
//! reports in its headers, and kept bodies given the cost numbers of the request that gets them (a kept body
//! is stored without them and completed per request). docs/cost.md.

use async_graphql::{Response, Value};

use crate::app::rate_limit::Points;
use crate::graphql::cost::cost_value;

/// The budget after a request, as the transport reports it (`RateLimit-Policy`, `RateLimit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Points per window.
    pub limit: u64,
    pub remaining: u64,
    pub window_secs: u64,
    /// Seconds until the budget is whole again.
    pub reset_secs: u64,
}

impl Budget {
    pub(super) fn of(points: &Points) -> Self {
        Self {
            limit: points.limit,
            remaining: points.remaining(),
            window_secs: points.window_secs,
            reset_secs: points.reset_in(chrono::Utc::now()),
        }
    }
}

fn number(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// (requested, remaining) of a response's `extensions.cost`.
pub(super) fn cost_of(response: &Response) -> Option<(u64, u64)> {
    match response.extensions.get("cost")? {
        Value::Object(cost) => Some((
            number(cost.get("requested"))?,
            number(cost.get("remaining"))?,
        )),
        _ => None,
    }
}

/// `retryAfterSeconds` of the first error of `response`.
pub(super) fn retry_after(response: &Response) -> Option<u64> {
    let first = response.errors.first()?;
    number(first.extensions.as_ref()?.get("retryAfterSeconds"))
}

/// The end of an answer without errors whose only extension is its cost: `{"requested":…,"remaining":…}}}`.
fn tail(requested: u64, remaining: u64) -> Vec<u8> {
    let mut tail = serde_json::to_vec(&cost_value(requested, remaining)).unwrap_or_default();
    tail.extend_from_slice(b"}}");
    tail
}

/// How many bytes at the end of a body are the cost numbers of its request (an `ETag` leaves them out).
pub(super) fn tail_len(requested: u64, remaining: u64) -> usize {
    tail(requested, remaining).len()
}

/// The body of an answer to keep, without the cost numbers of the request that built it (ending in
/// `"cost":`); `None` when it does not end with them (it is not kept then).
pub(super) fn without_cost(body: &[u8], requested: u64, remaining: u64) -> Option<&[u8]> {
    body.strip_suffix(tail(requested, remaining).as_slice())
        .filter(|prefix| prefix.ends_with(b"\"cost\":"))
}

/// A kept body completed with the cost numbers of the request it answers.
pub(super) fn with_cost(kept: &[u8], requested: u64, remaining: u64) -> Vec<u8> {
    let mut body = Vec::with_capacity(kept.len() + 64);
    body.extend_from_slice(kept);
    body.extend_from_slice(&tail(requested, remaining));
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_body_loses_its_cost_numbers_and_gets_the_next_requests() {
        let mut response = Response::new(async_graphql::value!({ "cost": { "requested": 9 } }));
        response
            .extensions
            .insert("cost".into(), cost_value(12, 988));
        let body = serde_json::to_vec(&response).unwrap();
        assert_eq!(cost_of(&response), Some((12, 988)));
        // The alias `cost` in the data does not confuse it: only the end of the body is cut.
        let kept = without_cost(&body, 12, 988).expect("ends with the cost");
        assert!(kept.ends_with(b"\"extensions\":{\"cost\":"));
        let served = with_cost(kept, 12, 976);
        let value: serde_json::Value = serde_json::from_slice(&served).unwrap();
        assert_eq!(value["extensions"]["cost"]["remaining"], 976);
        assert_eq!(value["data"]["cost"]["requested"], 9);
        assert_eq!(served.len() - tail_len(12, 976), kept.len());
        // Numbers that are not the body's: nothing to cut, the answer is not kept.
        assert!(without_cost(&body, 12, 987).is_none());
    }

    #[test]
    fn retry_after_is_read_from_the_first_error() {
        let response = crate::graphql::errors::coded_response("RATE_LIMITED", "slow down");
        assert_eq!(retry_after(&response), None);
        let mut response = response;
        if let Some(ext) = response.errors[0].extensions.as_mut() {
            ext.set("retryAfterSeconds", 7);
        }
        assert_eq!(retry_after(&response), Some(7));
    }
}
