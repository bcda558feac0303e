use super::*;

#[tokio::test]
async fn the_state_carries_counters_and_route_into_the_future() {
    let state = RequestState::begin();
    let inside = state
        .run(async {
            count_cache();
            let _trip = count_db();
            let _second = count_db();
            allow_replica(true);
            (replica_allowed(), started())
        })
        .await;
    assert_eq!(inside, (true, Some(state.started())));
    assert_eq!((state.db(), state.cache()), (2, 1));
    assert!(state.replica_allowed());
}

#[tokio::test]
async fn round_trips_that_fill_cache_entries_are_told_apart() {
    let state = RequestState::begin();
    state
        .run(async {
            let _list = count_db();
            filling(async {
                let _fill = count_db();
            })
            .await;
            let _write = count_db();
        })
        .await;
    assert_eq!((state.db(), state.db_outside_fills()), (3, 2));
}

#[tokio::test]
async fn the_budget_counters_round_trips_are_not_the_reads() {
    let state = RequestState::begin();
    state
        .run(async {
            count_cache();
            budgeting(async { count_cache() }).await;
            count_cache();
        })
        .await;
    assert_eq!(state.cache(), 2);
}

#[tokio::test]
async fn nothing_leaks_outside_the_state() {
    let state = RequestState::continuing(None, Duration::from_secs(5));
    state.run(async { allow_replica(true) }).await;
    // Outside: no request, so nothing is counted, reads go to the primary, and there is no clock.
    count_cache();
    let _trip = count_db();
    allow_replica(false);
    assert!(!replica_allowed());
    assert!(current().is_none());
    assert_eq!((started(), deadline()), (None, None));
    assert_eq!((state.db(), state.cache()), (0, 0));
    assert!(state.replica_allowed(), "a write outside did not reach it");
    // Two requests side by side count apart.
    let other = RequestState::begin();
    other.run(async { count_cache() }).await;
    assert_eq!((state.cache(), other.cache()), (0, 1));
}

#[tokio::test]
async fn a_second_or_nested_entry_shares_the_state() {
    let state = RequestState::begin();
    state.run(async { allow_replica(true) }).await;
    let again = state
        .run(async {
            count_cache();
            // A batch re-entering the request it belongs to, from inside it or from another task.
            let inner = current().map(|s| Arc::ptr_eq(&s, &state));
            state.run(async { count_cache() }).await;
            let spawned = {
                let state = Arc::clone(&state);
                tokio::spawn(async move { state.run(async { count_cache() }).await })
            };
            let _ = spawned.await;
            (inner, replica_allowed())
        })
        .await;
    assert_eq!(again, (Some(true), true));
    assert_eq!(state.cache(), 3);
}

#[tokio::test]
async fn a_narrowed_scope_keeps_what_it_does_not_change() {
    let state = RequestState::begin();
    state
        .run(filling(async {
            // A batch re-entering its request inside a fill is still a fill, and the budget inside it
            // is still not a read.
            state.run(async { drop(count_db()) }).await;
            budgeting(async { count_cache() }).await;
            assert!(current().is_some_and(|s| Arc::ptr_eq(&s, &state)));
        }))
        .await;
    assert_eq!(
        (state.db(), state.db_outside_fills(), state.cache()),
        (1, 0, 0)
    );
    // Outside every request, narrowing counts nothing and finds no request.
    filling(async { drop(count_db()) }).await;
    assert!(filling(async { current() }).await.is_none());
    assert_eq!(state.db(), 1);
}

#[tokio::test]
async fn a_transport_with_a_timeout_sets_the_deadline() {
    let bounded = RequestState::continuing(None, Duration::from_millis(250));
    assert_eq!(
        bounded.deadline(),
        Some(bounded.started() + Duration::from_millis(250))
    );
    let seen = bounded.run(async { deadline() }).await;
    assert_eq!(seen, bounded.deadline());
    let open = RequestState::begin();
    assert_eq!(open.run(async { deadline() }).await, None);
    assert!(open.started() >= bounded.started());
}

#[test]
fn without_exported_spans_log_lines_carry_the_requests_own_ids() {
    let trace = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128;
    let continued = RequestState::continuing(Some(trace), Duration::from_secs(5));
    let (trace_id, span_id) = continued.log_ids();
    assert_eq!(trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(span_id.len(), 16);
    assert_ne!(span_id, "0000000000000000");
    // A request that came without a trace starts one of its own, apart from every other request's.
    let (one, _) = RequestState::begin().log_ids();
    let (other, _) = RequestState::begin().log_ids();
    assert_eq!(one.len(), 32);
    assert_ne!(one, other);
}

#[tokio::test]
async fn a_requests_own_deletions_are_taken_once_and_kept_bounded() {
    let one = |key: &str| take_deleted(&[key.to_owned()]).and_then(|taken| taken[0]);
    let state = RequestState::begin();
    state
        .run(async {
            deleted(&["a".to_owned(), "b".to_owned()], &[3, 4]);
            deleted(&["a".to_owned()], &[5]);
            assert_eq!(one("a"), Some(5), "the latest deletion's guard");
            assert_eq!(one("a"), None, "taken once");
            // Without a guard per key nothing is remembered.
            deleted(&["c".to_owned()], &[]);
            assert_eq!(one("c"), None);
            let many: Vec<String> = (0..100).map(|n| format!("k{n}")).collect();
            deleted(&many, &(0..100).collect::<Vec<u64>>());
            assert_eq!(one("b"), None, "the oldest is forgotten past the bound");
            assert_eq!(one("k35"), None);
            assert_eq!(one("k36"), Some(36));
            assert_eq!(one("k99"), Some(99));
        })
        .await;
    assert_eq!(one("k98"), None, "nothing outside the request");
    let keys = ["x".to_owned(), "y".to_owned()];
    let taken = state
        .run(async {
            deleted(&keys[1..], &[7]);
            take_deleted(&keys)
        })
        .await;
    assert_eq!(taken, Some(vec![None, Some(7)]), "in the keys' order");
}
