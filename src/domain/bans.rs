//! Bans: a site-wide block with an optional end, and bans from one category (and its descendants). An end
//! in the past is refused; a ban whose end has passed no longer holds — nothing has to lift it.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use super::errors::{AppError, AppResult};
use super::ids::{CategoryId, UserId};

/// The furthest a ban's end may lie ahead (beyond it: leave the end out, the ban holds until lifted).
pub const MAX_BAN_DAYS: i64 = 100 * 366;

/// The end of a ban, checked against `now` and truncated to microseconds (what MariaDB keeps).
pub fn ban_end(
    field: &str,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> AppResult<Option<DateTime<Utc>>> {
    let Some(until) = until else { return Ok(None) };
    let until = until.trunc_subsecs(6);
    if until <= now {
        return Err(AppError::invalid(field, "must lie in the future"));
    }
    if until > now + chrono::Duration::days(MAX_BAN_DAYS) {
        return Err(AppError::invalid(
            field,
            "lies too far ahead; leave it out for a ban without an end",
        ));
    }
    Ok(Some(until))
}

/// A user banned from writing in a category and its descendants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryBan {
    pub id: i64,
    pub category_id: CategoryId,
    pub user_id: UserId,
    pub reason: Option<String>,
    pub until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl CategoryBan {
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

/// The refusal a banned user gets when writing in the category.
pub fn banned_here(until: Option<DateTime<Utc>>) -> AppError {
    match until {
        Some(until) => AppError::Forbidden(format!(
            "you are banned from writing in this category until {}",
            until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )),
        None => AppError::Forbidden("you are banned from writing in this category".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::errors::field_of;

    #[test]
    fn an_end_must_lie_in_the_future_and_within_bounds() {
        let now = Utc::now().trunc_subsecs(6);
        assert_eq!(ban_end("until", None, now), Ok(None));
        assert_eq!(
            field_of(ban_end("until", Some(now), now).unwrap_err()),
            "until"
        );
        let past = now - chrono::Duration::seconds(1);
        assert_eq!(
            field_of(ban_end("banUntil", Some(past), now).unwrap_err()),
            "banUntil"
        );
        let far = now + chrono::Duration::days(MAX_BAN_DAYS + 1);
        assert_eq!(
            field_of(ban_end("until", Some(far), now).unwrap_err()),
            "until"
        );
        let soon = now + chrono::Duration::nanoseconds(1_500_001);
        assert_eq!(
            ban_end("until", Some(soon), now).unwrap(),
            Some(now + chrono::Duration::microseconds(1_500))
        );
    }

    #[test]
    fn a_ban_holds_until_its_end() {
        let now = Utc::now();
        let ban = CategoryBan {
            id: 1,
            category_id: CategoryId(1),
            user_id: UserId(2),
            reason: None,
            until: Some(now + chrono::Duration::seconds(5)),
            created_at: now,
        };
        assert!(ban.in_force(now));
        assert!(!ban.in_force(now + chrono::Duration::seconds(5)));
        assert!(CategoryBan { until: None, ..ban }.in_force(now + chrono::Duration::days(9999)));
    }
}
