//! Opaque, stable cursors for keyset pagination: base64 of `cursor:<key>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::domain::page::PageRequest;
use crate::domain::{AppError, AppResult};

pub fn encode_cursor(key: i64) -> String {
    STANDARD.encode(format!("cursor:{key}"))
}

fn decode_cursor(field: &str, cursor: &str) -> AppResult<i64> {
    let bad = || AppError::invalid(field, "is not a valid cursor");
    let bytes = STANDARD.decode(cursor.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    text.strip_prefix("cursor:")
        .and_then(|k| k.parse::<i64>().ok())
        .ok_or_else(bad)
}

/// Validates Relay arguments into a page request over integer keys.
pub fn page_request(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> AppResult<PageRequest<i64>> {
    let after = after.map(|c| decode_cursor("after", &c)).transpose()?;
    let before = before.map(|c| decode_cursor("before", &c)).transpose()?;
    PageRequest::new(first, after, last, before)
}
