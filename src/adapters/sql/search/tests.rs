//! The plan choice of `search.rs`, per term (see docs/search-plan.md).

use super::*;

#[test]
fn a_page_walks_when_the_window_fills_it_or_ends_the_list() {
    // A common term: the window already holds a page (fetch = first + 1).
    assert_eq!(page_plan(21, 21, WALK_WINDOW), Plan::Walk);
    // A short list: the window held the whole rest of it, so its few matches are the answer.
    assert_eq!(page_plan(3, 21, WALK_WINDOW - 1), Plan::Walk);
    assert_eq!(page_plan(0, 21, 0), Plan::Walk);
    // A rare term in a long list: the index.
    assert_eq!(page_plan(20, 21, WALK_WINDOW), Plan::Index);
    assert_eq!(page_plan(0, 21, WALK_WINDOW), Plan::Index);
}

#[test]
fn a_count_reads_the_newest_posts_for_a_common_term_and_the_index_for_a_rare_one() {
    let cap = 10_000;
    // Fewer posts than the window: the probe counted them all.
    assert_eq!(count_plan(999, 10, true), CountPlan::Answered);
    // In a quarter of the newest posts or more: common, read further among the newest.
    assert_eq!(count_plan(WALK_WINDOW, 250, true), CountPlan::Newest);
    assert_eq!(count_plan(WALK_WINDOW, 249, true), CountPlan::Index);
    // Common and past the cap, or a list that ends within the window: answered.
    assert_eq!(
        count_plan_after_newest(count_window(cap), cap + 1, cap, true),
        CountPlan::Answered
    );
    assert_eq!(
        count_plan_after_newest(count_window(cap) - 1, 9_000, cap, true),
        CountPlan::Answered
    );
    // Common among the newest posts only: the index counts.
    assert_eq!(
        count_plan_after_newest(count_window(cap), 9_000, cap, true),
        CountPlan::Index
    );
    assert_eq!(count_window(cap), 40_004);
}

#[test]
fn a_term_without_a_word_of_two_characters_is_only_ever_walked() {
    assert!(
        search::query_tokens("a").is_empty(),
        "nothing for the index to look up"
    );
    assert!(!search::query_tokens("ab").is_empty());
    // Rare or not, it reads the newest posts, then the whole list: never the index.
    assert_eq!(count_plan(WALK_WINDOW, 0, false), CountPlan::Newest);
    assert_eq!(
        count_plan_after_newest(count_window(10), 3, 10, false),
        CountPlan::WalkAll
    );
    assert_eq!(
        count_plan_after_newest(count_window(10), 11, 10, false),
        CountPlan::Answered
    );
}
