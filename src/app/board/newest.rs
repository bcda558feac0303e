//! The first page of a category's newest posts (and of all posts), with the list's total, as one cache entry:
//! the board's most requested read costs no database round trip when warm.
//!
//! An entry holds the first [`HEAD`] + 1 keys of the list (one more than the largest page it serves, so it
//! knows whether a next page exists) and the list's `totalCount`. Every write that changes a list deletes
//! the entries that show it: a new or deleted post those of its category and the category's ancestors (and
//! of all posts), a category change all of them. A fill racing such a write is refused by the cache's fill
//! guard, like every other entry.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::BoardService;
use crate::domain::page::{Page, PageRequest};
use crate::domain::{AppResult, CategoryId, PostFilter, PostId, PostKey, PostOrder};

/// Cache key kind: `<prefix>:v1:newest:<category id, or 0 for all posts>`.
const NEWEST: &str = "newest";
/// The largest first page served from the entry.
pub(super) const HEAD: usize = 50;
/// The id of the list of all posts.
const ALL: i64 = 0;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Head {
    /// (post id, vote count) of the first `HEAD + 1` posts, newest first.
    keys: Vec<(i64, i64)>,
    total: i64,
}

/// The entry that serves `filter`, if any: a category (with its descendants) or all posts, nothing else.
fn head_id(filter: &PostFilter) -> Option<i64> {
    if filter.author_id.is_some() || filter.search.is_some() {
        return None;
    }
    match &filter.category_ids {
        None => Some(ALL),
        Some(ids) => ids.first().map(|id| id.0),
    }
}

impl BoardService {
    async fn head(&self, id: i64, filter: &PostFilter) -> AppResult<Option<Head>> {
        if !self.cache.enabled() {
            // Nothing to keep warm: the list and the counters answer directly.
            return Ok(None);
        }
        let posts = Arc::clone(self.posts.primary());
        let filter = filter.clone();
        let mut found = self
            .cache
            .load(NEWEST, &[id], |_| async move {
                let request = PageRequest {
                    limit: HEAD,
                    after: None,
                    before: None,
                    backward: false,
                };
                let page = posts.list(&filter, PostOrder::Newest, &request).await?;
                let mut keys: Vec<(i64, i64)> =
                    page.items.iter().map(|k| (k.id.0, k.votes)).collect();
                if page.has_next_page {
                    // `from_rows` dropped the extra row; it is not needed beyond "there is more".
                    keys.push((-1, 0));
                }
                let total = posts.count(&filter).await?;
                Ok(vec![(id, Head { keys, total })])
            })
            .await?;
        Ok(found.remove(&id))
    }

    /// The first page of a newest list from its entry, when `filter` and `page` ask for one.
    pub(super) async fn newest_first_page(
        &self,
        filter: &PostFilter,
        order: PostOrder,
        page: &PageRequest<PostKey>,
    ) -> AppResult<Option<Page<PostKey>>> {
        let first_page = order == PostOrder::Newest
            && page.after.is_none()
            && page.before.is_none()
            && !page.backward
            && page.limit <= HEAD;
        let Some(id) = head_id(filter).filter(|_| first_page) else {
            return Ok(None);
        };
        let Some(head) = self.head(id, filter).await? else {
            return Ok(None);
        };
        let rows: Vec<PostKey> = head
            .keys
            .iter()
            .take(page.fetch())
            .map(|&(id, votes)| PostKey {
                id: PostId(id),
                votes,
            })
            .collect();
        Ok(Some(Page::from_rows(rows, page)))
    }

    /// The list's total from the entry, when `filter` has one.
    pub(super) async fn newest_total(&self, filter: &PostFilter) -> AppResult<Option<i64>> {
        let Some(id) = head_id(filter) else {
            return Ok(None);
        };
        Ok(self.head(id, filter).await?.map(|h| h.total))
    }

    /// Deletes the entries that show posts of `category`: its own, its ancestors', and all posts'.
    pub(super) async fn forget_newest(&self, category: CategoryId) {
        let mut ids = vec![ALL, category.0];
        if let Ok(tree) = self.category_tree().await {
            let mut at = tree.get(category).and_then(|c| c.parent_id);
            // Bounded by the tree's size, whatever the rows say.
            for _ in 0..tree.categories.len() {
                let Some(parent) = at else { break };
                ids.push(parent.0);
                at = tree.get(parent).and_then(|c| c.parent_id);
            }
        }
        self.forget_heads(&ids).await;
    }

    /// Deletes every entry (a category was created, moved, renamed or deleted).
    pub(super) async fn forget_all_newest(&self) {
        let mut ids = vec![ALL];
        if let Ok(tree) = self.category_tree().await {
            ids.extend(tree.categories.iter().map(|c| c.id.0));
        }
        self.forget_heads(&ids).await;
    }

    async fn forget_heads(&self, ids: &[i64]) {
        let keys: Vec<String> = ids.iter().map(|id| self.cache.key(NEWEST, id)).collect();
        self.cache.invalidate(&keys).await;
    }
}
