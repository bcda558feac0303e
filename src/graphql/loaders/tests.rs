use super::*;
use crate::request;

#[tokio::test]
async fn a_batch_polled_by_another_task_counts_in_its_request() {
    let state = RequestState::begin();
    let batch = {
        let state = Arc::clone(&state);
        async move {
            counted(&state, "Test", 1, async {
                request::count_cache();
                let _trip = request::count_db();
                request::replica_allowed()
            })
            .await
        }
    };
    state.run(async { request::allow_replica(true) }).await;
    // Another task, outside the request: only the re-entry makes the batch count and route there.
    let routed = tokio::spawn(batch).await.ok();
    assert_eq!(routed, Some(true));
    assert_eq!((state.db(), state.cache()), (1, 1));
}
