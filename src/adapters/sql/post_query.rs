//! Pieces of SQL shared by the post lists and the search adapter: the filter, the keyset conditions and the
//! order of a post list (`p` is `post`).

use crate::domain::PostOrder;

/// Appends the non-search part of a post list's filter after a `WHERE`.
macro_rules! push_post_filter {
    ($query:expr, $filter:expr) => {{
        $query.push("p.is_active = TRUE");
        if let Some(categories) = &$filter.category_ids {
            $query.push(" AND p.category_id IN (");
            $crate::adapters::sql::push_ids!($query, categories.iter().map(|id| id.0));
        }
        if let Some(author) = $filter.author_id {
            $query.push(" AND p.user_id = ").push_bind(author.0);
        }
    }};
}
pub(crate) use push_post_filter;

/// Appends the keyset conditions of a page: `after` continues past the cursor in the list's order,
/// `before` stops at it.
macro_rules! push_keyset {
    ($query:expr, $order:expr, $page:expr) => {{
        let descending = $order != $crate::domain::PostOrder::Oldest;
        for (cursor, past) in [($page.after, true), ($page.before, false)] {
            let Some(key) = cursor else { continue };
            let op = if descending == past { "<" } else { ">" };
            if $order == $crate::domain::PostOrder::MostVoted {
                $query
                    .push(format!(" AND (p.vote_count {op} "))
                    .push_bind(key.votes)
                    .push(" OR (p.vote_count = ")
                    .push_bind(key.votes)
                    .push(format!(" AND p.id {op} "))
                    .push_bind(key.id.0)
                    .push("))");
            } else {
                $query.push(format!(" AND p.id {op} ")).push_bind(key.id.0);
            }
        }
    }};
}
pub(crate) use push_keyset;

/// ` ORDER BY …` of a page of a list in `order` (reversed for a backward page), on the table alias `alias`.
pub(crate) fn order_by(alias: &str, order: PostOrder, backward: bool) -> String {
    let descending = order != PostOrder::Oldest;
    let direction = if descending != backward {
        "DESC"
    } else {
        "ASC"
    };
    if order == PostOrder::MostVoted {
        format!(" ORDER BY {alias}.vote_count {direction}, {alias}.id {direction}")
    } else {
        format!(" ORDER BY {alias}.id {direction}")
    }
}
