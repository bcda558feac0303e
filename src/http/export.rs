//! `GET /posts/{id}/export.csv`: a post (current version) and its live comments as CSV.
//!
//! RFC 4180 (CRLF line ends; fields with commas, quotes or line breaks quoted, quotes doubled), UTF-8 with a
//! byte-order mark so spreadsheet tools read Korean correctly. Cells that a spreadsheet would run as a
//! formula (`=`, `+`, `-`, `@`, tab, CR at the start) are prefixed with `'`.

use std::collections::HashMap;

use async_graphql::ID;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{AppState, SharedState};
use crate::domain::page::PageRequest;
use crate::domain::{AppError, AppResult, Comment, CommentId, Post, PostId, User, UserId};
use crate::graphql::ids;

const BOM: &str = "\u{feff}";

pub async fn export_post(State(state): State<SharedState>, Path(raw): Path<String>) -> Response {
    let Some(id) = parse_id(&raw) else {
        return (StatusCode::NOT_FOUND, "no such post\n").into_response();
    };
    match render(&state, id).await {
        Ok(Some(csv)) => (
            StatusCode::OK,
            [
                (
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                ),
                (CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (
                    CONTENT_DISPOSITION,
                    HeaderValue::from_str(&format!("attachment; filename=\"post-{}.csv\"", id.0))
                        .unwrap_or(HeaderValue::from_static("attachment")),
                ),
            ],
            csv,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such post\n").into_response(),
        Err(AppError::Unavailable(_)) => {
            (StatusCode::SERVICE_UNAVAILABLE, "retry later\n").into_response()
        }
        Err(err) => {
            tracing::error!(error = %err, post_id = id.0, "csv export failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

/// A global post id (`UG9zdDo0Mg==`) or a plain number.
fn parse_id(raw: &str) -> Option<PostId> {
    if let Ok(n) = raw.parse::<i64>() {
        return (n > 0).then_some(PostId(n));
    }
    ids::decode_post("id", &ID(raw.to_owned())).ok()
}

async fn render(state: &AppState, id: PostId) -> AppResult<Option<String>> {
    let board = &state.services.board;
    let Some(post) = board
        .posts_by_ids(&[id])
        .await?
        .remove(&id)
        .filter(|p| p.is_active)
    else {
        return Ok(None);
    };
    let comments = all_comments(state, id).await?;
    let mut authors: Vec<UserId> = comments.iter().map(|c| c.author_id).collect();
    authors.push(post.author_id);
    authors.sort();
    authors.dedup();
    let users = state.services.accounts.users_by_ids(&authors).await?;
    Ok(Some(to_csv(&post, &comments, &users)))
}

async fn all_comments(state: &AppState, post: PostId) -> AppResult<Vec<Comment>> {
    let board = &state.services.board;
    let mut ids: Vec<CommentId> = Vec::new();
    let mut after = None;
    loop {
        let page = PageRequest::new(Some(100), after, None, None)?;
        let mut pages = board.comment_pages(&[post], &page, false).await?;
        let Some(found) = pages.remove(&post) else {
            break;
        };
        after = found.items.last().map(|c| c.0);
        ids.extend(found.items);
        if !found.has_next_page {
            break;
        }
    }
    let mut by_id = board.comments_by_ids(&ids).await?;
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

fn to_csv(post: &Post, comments: &[Comment], users: &HashMap<UserId, User>) -> String {
    let author = |id: UserId| {
        users
            .get(&id)
            .and_then(|u| u.name.clone())
            .unwrap_or_default()
    };
    let mut out = String::from(BOM);
    let mut row = |cells: &[&str]| {
        let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    };
    row(&[
        "type",
        "id",
        "version",
        "author",
        "created_at",
        "updated_at",
        "votes",
        "title",
        "content",
    ]);
    row(&[
        "post",
        ids::post(post.id).as_str(),
        &post.version.to_string(),
        &author(post.author_id),
        &post.created_at.to_rfc3339(),
        &post.updated_at.to_rfc3339(),
        &post.vote_count.to_string(),
        &post.title,
        &post.content,
    ]);
    for c in comments {
        row(&[
            "comment",
            ids::comment(c.id).as_str(),
            &c.version.to_string(),
            &author(c.author_id),
            &c.created_at.to_rfc3339(),
            &c.updated_at.to_rfc3339(),
            &c.vote_count.to_string(),
            "",
            &c.content,
        ]);
    }
    out
}

/// One RFC 4180 field, defused for spreadsheets.
fn field(raw: &str) -> String {
    let value = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_quoted_and_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("line\r\nbreak"), "\"line\r\nbreak\"");
        assert_eq!(field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(field("-1"), "'-1");
        assert_eq!(field("안녕"), "안녕");
    }
}
