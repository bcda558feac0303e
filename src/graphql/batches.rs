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
