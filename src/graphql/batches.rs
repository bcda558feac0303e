//! Runs a request's DataLoader batches inside the request's own task.
//!
//! async-graphql resolves the fields of a list concurrently within one poll; every field that asks a loader
//! for a key registers it before that poll returns. If batches ran as separate runtime tasks, another worker
//! thread could start a batch while its siblings are still registering keys, splitting one query into several
//! at random. Here a batch is only polled after the request's future has yielded, so each tick issues exactly
//! one batch per loader: the number of round trips per request is deterministic.
//!
//! "Yielded" must mean blocked: the engine's `FuturesUnordered` also returns `Pending` voluntarily (after
//! waking itself) to share the thread, in the middle of registering keys. A request that woke itself is
//! polled again before any batch runs.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::task::AtomicWaker;

#[derive(Default)]
pub struct RequestBatches {
    inbox: Mutex<Vec<BoxFuture<'static, ()>>>,
    waker: AtomicWaker,
}

impl RequestBatches {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A DataLoader spawner that hands batches to [`drive`].
    pub fn spawner(self: &Arc<Self>) -> impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static {
        let batches = Arc::clone(self);
        move |future| {
            if let Ok(mut inbox) = batches.inbox.lock() {
                inbox.push(future);
            }
            batches.waker.wake();
        }
    }

    fn take_new(&self) -> Vec<BoxFuture<'static, ()>> {
        self.inbox
            .lock()
            .map(|mut inbox| std::mem::take(&mut *inbox))
            .unwrap_or_default()
    }
}

/// Forwards wakes to the task, remembering that one happened.
struct Flagged {
    woken: AtomicBool,
    task: Waker,
}

impl Wake for Flagged {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake_by_ref();
    }
}

/// How many voluntary yields in a row are honoured in place before the thread is shared with other tasks.
const MAX_SPINS: usize = 256;

/// Polls `main` until it is blocked, then the batches it spawned, until `main` completes.
pub async fn drive<F: Future>(batches: Arc<RequestBatches>, main: F) -> F::Output {
    let mut main = pin!(main);
    let mut running: FuturesUnordered<BoxFuture<'static, ()>> = FuturesUnordered::new();
    std::future::poll_fn(move |cx| {
        batches.waker.register(cx.waker());
        loop {
            // The request only runs between generations of batches: while a batch is in flight, keys asked
            // for meanwhile would start a second, overlapping batch for the same loader, and how many
            // depended on database latency.
            if running.is_empty() {
                let mut spins = 0;
                loop {
                    let flagged = Arc::new(Flagged {
                        woken: AtomicBool::new(false),
                        task: cx.waker().clone(),
                    });
                    let waker = Waker::from(Arc::clone(&flagged));
                    if let Poll::Ready(output) =
                        main.as_mut().poll(&mut Context::from_waker(&waker))
                    {
                        return Poll::Ready(output);
                    }
                    if !flagged.woken.load(Ordering::Acquire) {
                        break;
                    }
                    spins += 1;
                    if spins >= MAX_SPINS {
                        // Still busy: let other tasks run, and come back without starting a batch early.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
            }
            running.extend(batches.take_new());
            if running.is_empty() {
                // Blocked on something else (a direct database call): its waker brings us back.
                return Poll::Pending;
            }
            while let Poll::Ready(Some(())) = running.poll_next_unpin(cx) {}
            if !running.is_empty() {
                return Poll::Pending;
            }
            // A generation finished: let the request take the results (and ask for the next).
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;
    use std::time::Duration;

    use futures::FutureExt;
    use tokio::sync::oneshot;

    use crate::request::{self, RequestState};

    /// A batch that sends `value` once it ran.
    fn batch_answering<T: Send + 'static>(
        batches: &Arc<RequestBatches>,
        value: T,
    ) -> oneshot::Receiver<T> {
        let (tx, rx) = oneshot::channel();
        (batches.spawner())(
            async move {
                let _ = tx.send(value);
            }
            .boxed(),
        );
        rx
    }

    /// Returns `Pending` after waking itself, as the engine's `FuturesUnordered` does to share the thread.
    fn yield_voluntarily() -> impl Future<Output = ()> {
        let mut yielded = false;
        std::future::poll_fn(move |cx| {
            if yielded {
                return Poll::Ready(());
            }
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        })
    }

    type Log = Arc<StdMutex<Vec<&'static str>>>;

    fn note(log: &Log, what: &'static str) {
        if let Ok(mut log) = log.lock() {
            log.push(what);
        }
    }

    fn notes(log: &Log) -> Vec<&'static str> {
        log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    #[tokio::test]
    async fn batches_are_driven_to_completion_generation_after_generation() {
        let batches = RequestBatches::new();
        let spawner = Arc::clone(&batches);
        let answer = drive(batches, async move {
            // Each generation asks for the next, as nested fields do.
            let first = batch_answering(&spawner, 1).await.unwrap_or(0);
            let second = batch_answering(&spawner, first + 1).await.unwrap_or(0);
            let (a, b) =
                futures::join!(batch_answering(&spawner, 10), batch_answering(&spawner, 20));
            second + a.unwrap_or(0) + b.unwrap_or(0)
        });
        let answer = tokio::time::timeout(Duration::from_secs(5), answer).await;
        assert_eq!(answer.ok(), Some(32));
    }

    #[tokio::test]
    async fn wakeups_from_other_threads_are_not_lost() {
        let batches = RequestBatches::new();
        let spawner = batches.spawner();
        let (tx, rx) = oneshot::channel();
        let (late_tx, late_rx) = oneshot::channel();
        let request = drive(Arc::clone(&batches), async move {
            // A batch that waits for another thread, and the request waiting on a batch that another thread
            // hands in while the driver sleeps.
            let woken = rx.await.unwrap_or(0);
            let late = late_rx.await.unwrap_or(0);
            woken + late
        });
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let _ = tx.send(1);
            std::thread::sleep(Duration::from_millis(20));
            spawner(
                async move {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    let _ = late_tx.send(2);
                }
                .boxed(),
            );
        });
        let answer = tokio::time::timeout(Duration::from_secs(5), request).await;
        assert_eq!(answer.ok(), Some(3), "every wake reached the driver");
    }

    #[tokio::test]
    async fn the_request_waits_while_a_generation_runs_and_its_batches_run_together() {
        let batches = RequestBatches::new();
        let spawner = Arc::clone(&batches);
        let log: Log = Arc::default();
        let seen = Arc::clone(&log);
        let request = drive(batches, async move {
            let (to_a, a_hears) = oneshot::channel::<()>();
            let (to_b, b_hears) = oneshot::channel::<()>();
            let spawn = spawner.spawner();
            let a_log = Arc::clone(&seen);
            // Each batch of the generation waits for the other: they finish only if polled side by side.
            spawn(
                async move {
                    let _ = to_b.send(());
                    let _ = a_hears.await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    note(&a_log, "batches done");
                }
                .boxed(),
            );
            spawn(
                async move {
                    let _ = to_a.send(());
                    let _ = b_hears.await;
                }
                .boxed(),
            );
            // Ready long before the batches finish, yet only taken up once the generation is over.
            tokio::time::sleep(Duration::from_millis(5)).await;
            note(&seen, "request resumed");
        });
        let answer = tokio::time::timeout(Duration::from_secs(5), request).await;
        assert!(answer.is_ok(), "the two batches ran concurrently");
        assert_eq!(notes(&log), ["batches done", "request resumed"]);
    }

    #[tokio::test]
    async fn a_request_that_yields_voluntarily_registers_all_its_keys_before_a_batch_runs() {
        let batches = RequestBatches::new();
        let spawner = Arc::clone(&batches);
        let log: Log = Arc::default();
        let seen = Arc::clone(&log);
        let request = drive(batches, async move {
            let batch_log = Arc::clone(&seen);
            let ran = {
                let (tx, rx) = oneshot::channel();
                (spawner.spawner())(
                    async move {
                        note(&batch_log, "batch");
                        let _ = tx.send(());
                    }
                    .boxed(),
                );
                rx
            };
            // More voluntary yields than the driver honours in place (MAX_SPINS): it shares the thread,
            // but still starts no batch while the request is not blocked.
            for _ in 0..(MAX_SPINS + 10) {
                yield_voluntarily().await;
            }
            note(&seen, "keys registered");
            let _ = ran.await;
        });
        let answer = tokio::time::timeout(Duration::from_secs(5), request).await;
        assert!(answer.is_ok());
        assert_eq!(notes(&log), ["keys registered", "batch"]);
    }

    #[tokio::test]
    async fn batches_count_in_the_state_of_the_request_they_serve() {
        // Entered around the driver (as every transport does), the state reaches the batches it polls,
        // including a subscription's, which ran without one before.
        let state = RequestState::begin();
        let batches = RequestBatches::new();
        let spawner = Arc::clone(&batches);
        state
            .run(drive(batches, async move {
                let (tx, rx) = oneshot::channel();
                (spawner.spawner())(
                    async move {
                        request::count_cache();
                        let _trip = request::count_db();
                        let _ = tx.send(());
                    }
                    .boxed(),
                );
                let _ = rx.await;
            }))
            .await;
        assert_eq!((state.db(), state.cache()), (1, 1));
    }
}
