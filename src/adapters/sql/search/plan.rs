//! Which way a search page or count goes on after its walk window (see docs/search-plan.md).

use super::WALK_WINDOW;

/// How a page goes on after its walk window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plan {
    /// The window filled the page, or held the whole rest of the list: it is the answer.
    Walk,
    /// The term is rare: the index finds the page.
    Index,
}

pub(super) fn page_plan(matched: i64, fetch: i64, scanned: i64) -> Plan {
    if matched >= fetch || scanned < WALK_WINDOW {
        Plan::Walk
    } else {
        Plan::Index
    }
}

/// How a count goes on after a probe of the newest posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CountPlan {
    /// The probe's matches are the count (capped at cap + 1).
    Answered,
    /// Read the newest [`count_window`] posts, up to cap + 1 matches.
    Newest,
    /// Walk the whole list (a term without a word of two characters: nothing else can count it).
    WalkAll,
    /// Count through the index.
    Index,
}

/// After the first probe (the newest [`WALK_WINDOW`] posts): a short list is counted; a common term, or
/// one the index cannot look up, reads further among the newest; a rare term goes to the index.
pub(super) fn count_plan(scanned: i64, matched: i64, has_tokens: bool) -> CountPlan {
    if scanned < WALK_WINDOW {
        CountPlan::Answered
    } else if matched * 4 >= scanned || !has_tokens {
        CountPlan::Newest
    } else {
        CountPlan::Index
    }
}

/// After the newest [`count_window`] posts: more than the cap, or a list that ends there, is the count;
/// else a term common among the newest posts only goes to the index (or the whole list, without tokens).
pub(super) fn count_plan_after_newest(
    scanned: i64,
    matched: i64,
    cap: i64,
    has_tokens: bool,
) -> CountPlan {
    if matched > cap || scanned < count_window(cap) {
        CountPlan::Answered
    } else if has_tokens {
        CountPlan::Index
    } else {
        CountPlan::WalkAll
    }
}

/// How many of the newest posts a count reads before it asks the index: enough that a term in a quarter of
/// the posts or more reaches the cap within it (its count is then "more than the cap" without the index,
/// which would hand back most of the board).
pub(super) fn count_window(cap: i64) -> i64 {
    (cap + 1).saturating_mul(4)
}
