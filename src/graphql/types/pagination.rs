//! Opaque, stable cursors for keyset pagination: base64 of `cursor:<key>[:<key>…]`.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{ObjectType, OutputType};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::domain::page::{Page, PageRequest};
use crate::domain::{AppError, AppResult, PostId, PostKey};

pub fn encode_cursor(key: i64) -> String {
    encode_parts(&[key])
}

fn encode_parts(parts: &[i64]) -> String {
    let text: Vec<String> = parts.iter().map(i64::to_string).collect();
    STANDARD.encode(format!("cursor:{}", text.join(":")))
}

fn decode_parts(field: &str, cursor: &str, count: usize) -> AppResult<Vec<i64>> {
    let bad = || AppError::invalid(field, "is not a valid cursor");
    let bytes = STANDARD.decode(cursor.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let parts: Vec<i64> = text
        .strip_prefix("cursor:")
        .ok_or_else(bad)?
        .split(':')
        .map(|p| p.parse::<i64>().map_err(|_| bad()))
        .collect::<AppResult<_>>()?;
    if parts.len() == count {
        Ok(parts)
    } else {
        Err(bad())
    }
}

/// Validates Relay arguments into a page request over integer keys.
pub fn page_request(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> AppResult<PageRequest<i64>> {
    let decode = |field: &str, c: String| decode_parts(field, &c, 1).map(|p| p[0]);
    let after = after.map(|c| decode("after", c)).transpose()?;
    let before = before.map(|c| decode("before", c)).transpose()?;
    PageRequest::new(first, after, last, before)
}

pub fn post_cursor(key: PostKey) -> String {
    encode_parts(&[key.id.0, key.votes])
}

/// Relay arguments of a post list; cursors carry the id and the vote count (for `MOST_VOTED`).
pub fn post_page_request(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> AppResult<PageRequest<PostKey>> {
    let decode = |field: &str, c: String| {
        decode_parts(field, &c, 2).map(|p| PostKey {
            id: PostId(p[0]),
            votes: p[1],
        })
    };
    let after = after.map(|c| decode("after", c)).transpose()?;
    let before = before.map(|c| decode("before", c)).transpose()?;
    PageRequest::new(first, after, last, before)
}

/// A Relay connection from a page of keys and the nodes they resolved to (keys whose node is gone are skipped).
pub fn connection<K, N, T>(
    page: Page<K>,
    totals: T,
    cursor: impl Fn(&K) -> String,
    mut node: impl FnMut(&K) -> Option<N>,
) -> Connection<String, N, T>
where
    N: OutputType,
    T: ObjectType,
{
    let mut connection =
        Connection::with_additional_fields(page.has_previous_page, page.has_next_page, totals);
    connection.edges.extend(
        page.items
            .iter()
            .filter_map(|key| node(key).map(|n| Edge::new(cursor(key), n))),
    );
    connection
}
