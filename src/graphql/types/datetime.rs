//! The `DateTime` scalar as clients see it: an RFC 3339 timestamp in UTC, written with `Z`.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{SecondsFormat, Utc};

/// A point in time: an RFC 3339 date-time in UTC with a `Z` offset and up to microsecond precision, e.g.
/// `2024-05-01T12:30:00.123456Z`. As input any RFC 3339 offset is accepted and converted to UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// A point in time: an RFC 3339 date-time in UTC with a `Z` offset and up to microsecond precision, e.g.
/// `2024-05-01T12:30:00.123456Z`.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://scalars.graphql.org/chillicream/date-time.html"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| DateTime(t.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom("expected an RFC 3339 date-time")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(t: chrono::DateTime<Utc>) -> Self {
        Self(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn written_in_utc_with_z() {
        let t = Utc.with_ymd_and_hms(2024, 5, 1, 12, 30, 0).unwrap();
        assert_eq!(
            DateTime(t).to_value(),
            Value::String("2024-05-01T12:30:00Z".into())
        );
        let parsed = DateTime::parse(Value::String("2024-05-01T21:30:00+09:00".into())).unwrap();
        assert_eq!(parsed.0, t);
    }
}
