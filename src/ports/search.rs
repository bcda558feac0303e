//! The `Search` port: which posts hold a term, in a list's order, and how many.

use async_trait::async_trait;

use crate::domain::page::{Page, PageRequest};
use crate::domain::{AppResult, PostFilter, PostKey, PostOrder};

/// Search over the current title and content of the active posts. A post matches when its case-folded title
/// or content (see `domain::search::fold`) contains the case-folded term literally; `filter.search` is set.
///
/// The SQL adapter keeps its index in the same transactions as the posts, so a search sees every committed
/// write. An adapter over an external engine (see the README) indexes after the commit and must say how
/// read-your-writes holds.
#[async_trait]
pub trait PostSearch: Send + Sync {
    /// A page of the matching posts in `order`, same keyset cursors as the post lists.
    async fn page(
        &self,
        filter: &PostFilter,
        order: PostOrder,
        page: &PageRequest<PostKey>,
    ) -> AppResult<Page<PostKey>>;
    /// How many posts match: exact up to `cap`; `cap + 1` stands for "more than `cap`".
    async fn count(&self, filter: &PostFilter, cap: i64) -> AppResult<i64>;
}
