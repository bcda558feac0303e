//! The first comments of a post (oldest first), as one cache entry per post: a warm post page with its
//! comments costs no database round trip. Like the newest posts' entry ([`super::newest`]), it holds
//! [`HEAD`] + 1 ids (one more than the largest page it serves, to know whether a next page exists); a new
//! or deleted comment deletes its post's entry ([`super::invalidation`]).

use std::collections::HashMap;
use std::sync::Arc;

use super::BoardService;
use super::newest::HEAD;
use crate::domain::page::{Page, PageRequest};
use crate::domain::{AppResult, CommentId, PostId};

/// Cache key kind: `<prefix>:v1:comment_head:<post id>`.
pub(super) const COMMENT_HEAD: &str = "comment_head";
/// The same for the post's top-level comments only (`comments(topLevelOnly: true)`).
pub(super) const TOP_COMMENT_HEAD: &str = "top_comment_head";
/// Stands for "more comments follow" at the end of an entry of `HEAD` ids.
const MORE: i64 = -1;

/// Whether `page` is a first page the entry can serve.
fn served_by_head(page: &PageRequest<i64>) -> bool {
    page.after.is_none() && page.before.is_none() && !page.backward && page.limit <= HEAD
}

/// The entry of one post's first page of `HEAD` comments.
fn head_entry(page: &Page<CommentId>) -> Vec<i64> {
    let mut ids: Vec<i64> = page.items.iter().map(|c| c.0).collect();
    if page.has_next_page {
        ids.push(MORE);
    }
    ids
}

/// The page `page` asks for, cut from an entry.
fn page_from_head(ids: &[i64], page: &PageRequest<i64>) -> Page<CommentId> {
    let rows = ids
        .iter()
        .take(page.fetch())
        .map(|&id| CommentId(id))
        .collect();
    Page::from_rows(rows, page)
}

impl BoardService {
    /// One page of comments (only top-level ones with `top_level_only`) of each post in `posts` (one query
    /// for all of them); a first page of at most [`HEAD`] comments from the posts' cache entries.
    pub async fn comment_pages(
        &self,
        posts: &[PostId],
        page: &PageRequest<i64>,
        top_level_only: bool,
    ) -> AppResult<HashMap<PostId, Page<CommentId>>> {
        if !self.cache.enabled() || !served_by_head(page) {
            return Ok(self
                .comments
                .read(|r| r.pages_for_posts(posts, page, top_level_only))
                .await?
                .into_iter()
                .collect());
        }
        let comments = Arc::clone(self.comments.primary());
        let kind = if top_level_only {
            TOP_COMMENT_HEAD
        } else {
            COMMENT_HEAD
        };
        let heads = self
            .cache
            .load(kind, posts, |misses| async move {
                let whole = PageRequest {
                    limit: HEAD,
                    after: None,
                    before: None,
                    backward: false,
                };
                Ok(comments
                    .pages_for_posts(&misses, &whole, top_level_only)
                    .await?
                    .into_iter()
                    .map(|(post, first)| (post, head_entry(&first)))
                    .collect())
            })
            .await?;
        Ok(heads
            .into_iter()
            .map(|(post, ids)| (post, page_from_head(&ids, page)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(n: usize) -> PageRequest<i64> {
        PageRequest {
            limit: n,
            after: None,
            before: None,
            backward: false,
        }
    }

    #[test]
    fn pages_cut_from_an_entry_know_whether_more_follow() {
        let full = Page {
            items: (1..=HEAD as i64).map(CommentId).collect(),
            has_next_page: true,
            has_previous_page: false,
        };
        let entry = head_entry(&full);
        assert_eq!(entry.len(), HEAD + 1);
        let three = page_from_head(&entry, &first(3));
        assert_eq!(three.items, vec![CommentId(1), CommentId(2), CommentId(3)]);
        assert!(three.has_next_page);
        let all = page_from_head(&entry, &first(HEAD));
        assert_eq!(all.items.len(), HEAD);
        assert!(all.has_next_page, "the marker says more follow");

        let short = head_entry(&Page {
            items: vec![CommentId(4), CommentId(9)],
            has_next_page: false,
            has_previous_page: false,
        });
        let page = page_from_head(&short, &first(2));
        assert_eq!(page.items, vec![CommentId(4), CommentId(9)]);
        assert!(!page.has_next_page);
        assert!(page_from_head(&[], &first(20)).items.is_empty());
    }

    #[test]
    fn only_first_pages_within_the_entry_are_served_from_it() {
        assert!(served_by_head(&first(HEAD)));
        assert!(!served_by_head(&first(HEAD + 1)));
        assert!(!served_by_head(&PageRequest {
            after: Some(3),
            ..first(5)
        }));
        assert!(!served_by_head(&PageRequest {
            backward: true,
            ..first(5)
        }));
    }
}
