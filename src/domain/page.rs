//! Keyset pagination (Relay `first/after/last/before`) without OFFSET scans.

use super::errors::{AppError, AppResult};

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

/// A validated page request over keys of type `K` (the sort key of the last row seen).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageRequest<K> {
    /// Rows wanted; the adapter fetches one more to learn whether another page exists.
    pub limit: usize,
    pub after: Option<K>,
    pub before: Option<K>,
    /// `last`/`before`: read towards the start, then present the rows in the usual order.
    pub backward: bool,
}

impl<K> PageRequest<K> {
    /// Validates Relay arguments: `first` and `last` are 1–100, not both; the default is the first 20.
    pub fn new(
        first: Option<i32>,
        after: Option<K>,
        last: Option<i32>,
        before: Option<K>,
    ) -> AppResult<Self> {
        let check = |field: &str, n: i32| -> AppResult<usize> {
            if (1..=MAX_PAGE_SIZE as i32).contains(&n) {
                Ok(n as usize)
            } else {
                Err(AppError::invalid(
                    field,
                    format!("must be between 1 and {MAX_PAGE_SIZE}"),
                ))
            }
        };
        let (limit, backward) = match (first, last) {
            (Some(_), Some(_)) => {
                return Err(AppError::invalid("last", "cannot be combined with first"));
            }
            (Some(n), None) => (check("first", n)?, false),
            (None, Some(n)) => (check("last", n)?, true),
            (None, None) => (DEFAULT_PAGE_SIZE, before.is_some() && after.is_none()),
        };
        Ok(Self {
            limit,
            after,
            before,
            backward,
        })
    }

    /// The number of rows to fetch.
    pub fn fetch(&self) -> usize {
        self.limit + 1
    }
}

/// One page of rows in presentation order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    pub fn empty() -> Self {
        Self {
            items: Vec::new(),
            has_next_page: false,
            has_previous_page: false,
        }
    }

    /// Builds a page from rows fetched in reading order (`request.fetch()` of them at most).
    pub fn from_rows<K>(mut rows: Vec<T>, request: &PageRequest<K>) -> Self {
        let more = rows.len() > request.limit;
        rows.truncate(request.limit);
        if request.backward {
            rows.reverse();
            Self {
                items: rows,
                has_next_page: request.before.is_some(),
                has_previous_page: more,
            }
        } else {
            Self {
                items: rows,
                has_next_page: more,
                has_previous_page: request.after.is_some(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_and_last_are_bounded() {
        assert!(PageRequest::<i64>::new(Some(0), None, None, None).is_err());
        assert!(PageRequest::<i64>::new(Some(101), None, None, None).is_err());
        assert!(PageRequest::<i64>::new(None, None, Some(-1), None).is_err());
        assert!(PageRequest::<i64>::new(Some(1), None, Some(1), None).is_err());
        assert_eq!(
            PageRequest::<i64>::new(None, None, None, None)
                .unwrap()
                .limit,
            20
        );
    }

    #[test]
    fn pages_know_their_neighbours() {
        let forward = PageRequest::new(Some(2), Some(10_i64), None, None).unwrap();
        let page = Page::from_rows(vec![9, 8, 7], &forward);
        assert_eq!(page.items, vec![9, 8]);
        assert!(page.has_next_page && page.has_previous_page);

        let backward = PageRequest::new(None, None, Some(2), Some(5_i64)).unwrap();
        let page = Page::from_rows(vec![6, 7], &backward);
        assert_eq!(page.items, vec![7, 6]);
        assert!(page.has_next_page && !page.has_previous_page);
    }
}
