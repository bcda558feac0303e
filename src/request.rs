//! One request's state (start, deadline, round trips, read route), entered once by its transport and read
//! by the layers below through the free functions here. The picture and one request followed hop by hop:
//! docs/request-context.md.

use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use opentelemetry::Context;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::domain::TraceParent;
use crate::telemetry::metrics;
use crate::telemetry::traces::{self, RoundTrip};

/// What the layers of one request share: when it began and must end, the round trips it made, and
/// where its reads may go.
#[derive(Debug)]
pub struct RequestState {
    started: Instant,
    deadline: Option<Instant>,
    db: AtomicU64,
    /// Of `db`, the round trips that read values for cache entries (see [`filling`]).
    db_for_fills: AtomicU64,
    cache: AtomicU64,
    /// Reads may go to the replica (primary until the transport decides otherwise).
    replica: AtomicBool,
    /// The span the request began in (its transport's), and its operation's once the pipeline names it:
    /// round-trip spans hang off the latter, else the former (docs/traces.md).
    began_in: tracing::Span,
    operation: OnceLock<tracing::Span>,
    /// The span of the event being handled now, while spans are exported (the hub's reading of one event,
    /// one subscription delivery): round trips and loader batches hang off it meanwhile.
    handling: Mutex<Option<Context>>,
    /// The ids its log lines carry when spans are not exported: the trace it came with (else a new one),
    /// and a span id of its own.
    own_ids: (u128, u64),
    /// Shared cache keys this request deleted, with the fill guard each deletion left (see [`deleted`]).
    deleted: Mutex<Vec<(String, u64)>>,
}

/// What the future being polled is doing for its request, entered once by the transport and narrowed by
/// the layers below (a fill, the budget, a loader batch, a fan-out). The one task-local of the crate.
#[derive(Clone, Default)]
struct Scope {
    state: Option<Arc<RequestState>>,
    /// Reading values for cache entries ([`filling`]).
    filling: bool,
    /// Spending the points budget ([`budgeting`]).
    budgeting: bool,
    /// The span of the part of the request running in this future (a DataLoader batch).
    within: Option<Context>,
    /// The write whose consequences this future works out (a fan-out), for the events it publishes.
    caused_by: Option<TraceParent>,
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// Runs `future` in the scope current when it is first polled, changed by `change` (a fresh one outside
/// every scope). A large future is boxed by its caller: each layer here moves it.
async fn narrowed<F: Future>(change: impl FnOnce(&mut Scope), future: F) -> F::Output {
    let mut scope = SCOPE.try_with(Scope::clone).unwrap_or_default();
    change(&mut scope);
    SCOPE.scope(scope, future).await
}

/// Reads the current scope (`None` outside every scope).
fn with_scope<R>(read: impl FnOnce(&Scope) -> R) -> Option<R> {
    SCOPE.try_with(read).ok()
}

/// Reads the current request's state (`None` outside a request).
fn with_state<R>(read: impl FnOnce(&Arc<RequestState>) -> R) -> Option<R> {
    SCOPE
        .try_with(|scope| scope.state.as_ref().map(read))
        .ok()
        .flatten()
}

impl RequestState {
    /// A request beginning now, answered whenever it finishes (graphql-ws, the event hub).
    pub fn begin() -> Arc<Self> {
        Self::starting(Instant::now(), None, None)
    }

    /// A request beginning now whose transport stops waiting for it after `timeout` (HTTP), in the trace
    /// `trace` it came with (its `traceparent`), if any.
    pub fn continuing(trace: Option<u128>, timeout: Duration) -> Arc<Self> {
        let started = Instant::now();
        Self::starting(started, started.checked_add(timeout), trace)
    }

    fn starting(started: Instant, deadline: Option<Instant>, trace: Option<u128>) -> Arc<Self> {
        let own_ids = (
            trace.unwrap_or_else(|| rand::random::<u128>().max(1)),
            rand::random::<u64>().max(1),
        );
        Arc::new(Self {
            started,
            deadline,
            db: AtomicU64::new(0),
            db_for_fills: AtomicU64::new(0),
            cache: AtomicU64::new(0),
            replica: AtomicBool::new(false),
            began_in: tracing::Span::current(),
            operation: OnceLock::new(),
            handling: Mutex::new(None),
            own_ids,
            deleted: Mutex::new(Vec::new()),
        })
    }

    /// The trace id and span id (hex) its log lines carry: its operation's span's when spans are exported,
    /// else its own ([`Self::continuing`] a trace it came with).
    pub fn log_ids(&self) -> (String, String) {
        traces::ids(self.span()).unwrap_or_else(|| {
            let (trace, span) = self.own_ids;
            (format!("{trace:032x}"), format!("{span:016x}"))
        })
    }

    /// From now on its round trips and loader batches hang off `span` (an event's: see
    /// [`traces::event_span`], [`traces::delivery_span`]), until [`Self::handled`]. `None` (spans are not
    /// exported) changes nothing.
    pub fn handling(&self, span: Option<Context>) {
        if span.is_none() {
            return;
        }
        if let Ok(mut handling) = self.handling.lock()
            && let Some(previous) = std::mem::replace(&mut *handling, span)
        {
            traces::end(&previous);
        }
    }

    /// The event being handled is done: its span ends.
    pub fn handled(&self) {
        if let Ok(mut handling) = self.handling.lock()
            && let Some(span) = handling.take()
        {
            traces::end(&span);
        }
    }

    /// The OpenTelemetry context the request's work hangs off now: the event it handles, else its span.
    pub fn trace_parent(&self) -> Context {
        let handling = self
            .handling
            .lock()
            .ok()
            .and_then(|handling| handling.clone());
        handling.unwrap_or_else(|| self.span().context())
    }

    /// Names the span of the request's operation (once; a later call is ignored): its round trips become
    /// its children.
    pub fn traced_as(&self, operation: tracing::Span) {
        let _ = self.operation.set(operation);
    }

    /// The span this request's round trips hang off.
    pub fn span(&self) -> &tracing::Span {
        self.operation.get().unwrap_or(&self.began_in)
    }

    /// Runs `future` (part of this request, with its DataLoader batches) as this request. It may be entered
    /// more than once (a batch polled by another task re-enters it); every entry shares the same state.
    pub async fn run<F: Future>(self: &Arc<Self>, future: F) -> F::Output {
        let state = Arc::clone(self);
        narrowed(|scope| scope.state = Some(state), future).await
    }

    /// When the request began.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// When its transport stops waiting for the answer (`None`: it waits as long as the request runs).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The database round trips counted so far.
    pub fn db(&self) -> u64 {
        self.db.load(Ordering::Relaxed)
    }

    /// Database round trips that did not read values for cache entries: a write, a list, a search.
    /// An answer is only as current as its cache entries when this is 0 (the response cache's rule).
    pub fn db_outside_fills(&self) -> u64 {
        self.db() - self.db_for_fills.load(Ordering::Relaxed)
    }

    /// The cache round trips counted so far.
    pub fn cache(&self) -> u64 {
        self.cache.load(Ordering::Relaxed)
    }

    /// Whether this request's reads may go to the replica.
    pub fn replica_allowed(&self) -> bool {
        self.replica.load(Ordering::Relaxed)
    }
}

/// The request this task serves, if any.
pub fn current() -> Option<Arc<RequestState>> {
    with_state(Arc::clone)
}

/// How many of its own deletions' guards a request remembers at most (see [`deleted`]).
const REMEMBERED_DELETIONS: usize = 64;

/// Remembers that the current request deleted `keys` from the shared cache, leaving the fill guards
/// `guards` (a no-op outside a request, or without a guard per key): its own later read of one of them
/// knows the key is gone and fills it under that guard without asking the cache first ([`take_deleted`]).
pub fn deleted(keys: &[String], guards: &[u64]) {
    if keys.len() != guards.len() {
        return;
    }
    let _ = with_state(|state| {
        if let Ok(mut deleted) = state.deleted.lock() {
            for (key, guard) in keys.iter().zip(guards) {
                deleted.retain(|(known, _)| known != key);
                deleted.push((key.clone(), *guard));
            }
            // A long-lived state (a subscription's) keeps only the latest: a forgotten guard costs a read.
            let over = deleted.len().saturating_sub(REMEMBERED_DELETIONS);
            deleted.drain(..over);
        }
    });
}

/// The fill guards the current request's own deletions left on `keys`, in order (`None` for a key it did not
/// delete), each taken once: the read it serves fills the key, so a second read asks the cache as usual.
/// `None` when it deleted none of them (the common case: one lock, nothing allocated).
pub fn take_deleted(keys: &[String]) -> Option<Vec<Option<u64>>> {
    with_state(|state| {
        let mut deleted = state.deleted.lock().ok()?;
        if deleted.is_empty() {
            return None;
        }
        let mut taken = Vec::with_capacity(keys.len());
        for key in keys {
            let at = deleted.iter().position(|(known, _)| known == key);
            taken.push(at.map(|at| deleted.remove(at).1));
        }
        taken.iter().any(Option::is_some).then_some(taken)
    })
    .flatten()
}

/// When the request this task serves began (`None` outside a request).
pub fn started() -> Option<Instant> {
    with_state(|state| state.started)
}

/// When the transport of the request this task serves stops waiting (`None` outside a request or
/// without a deadline).
pub fn deadline() -> Option<Instant> {
    with_state(|state| state.deadline).flatten()
}

/// Counts one database round trip for the current request (a no-op outside one); the returned guard
/// records the round trip's duration when dropped, and its span (named by the caller's place in the code)
/// when spans are exported.
#[must_use = "bind the guard (`let _trip = count_db();`) so that it measures the round trip"]
#[track_caller]
pub fn count_db() -> DbTrip {
    let trace = with_scope(|scope| {
        let state = scope.state.as_ref()?;
        state.db.fetch_add(1, Ordering::Relaxed);
        if scope.filling {
            state.db_for_fills.fetch_add(1, Ordering::Relaxed);
        }
        Some(RoundTrip::begin(|| parent_in(scope, state)))
    })
    .flatten();
    DbTrip {
        started: Instant::now(),
        trace: trace.unwrap_or_else(|| RoundTrip::begin(outside)),
        at: Location::caller(),
        summary: None,
    }
}

/// Runs `future` as the read of values for cache entries, which writes delete when they change them:
/// its round trips count in [`RequestState::db_outside_fills`] as not made.
pub async fn filling<F: Future>(future: F) -> F::Output {
    narrowed(|scope| scope.filling = true, future).await
}

/// Counts one cache round trip for the current request (a no-op outside one, and inside [`budgeting`]).
pub fn count_cache() {
    let _ = with_scope(|scope| {
        if let Some(state) = &scope.state
            && !scope.budgeting
        {
            state.cache.fetch_add(1, Ordering::Relaxed);
        }
    });
}

/// Counts one cache round trip to Redis ([`count_cache`]) and times it for a span, which
/// [`RedisTrip::end`] names after the command.
pub fn count_redis() -> RedisTrip {
    let trace = with_scope(|scope| {
        let state = scope.state.as_ref()?;
        if !scope.budgeting {
            state.cache.fetch_add(1, Ordering::Relaxed);
        }
        Some(RoundTrip::begin(|| parent_in(scope, state)))
    })
    .flatten();
    RedisTrip(trace.unwrap_or_else(|| RoundTrip::begin(outside)))
}

/// The span a round trip of `state` hangs off: the part of it running now (a loader batch), else the event
/// it handles, else its operation's span.
fn parent_in(scope: &Scope, state: &RequestState) -> Context {
    scope.within.clone().unwrap_or_else(|| state.trace_parent())
}

/// Outside a request, a round trip hangs off the current span, if any.
fn outside() -> Context {
    with_scope(|scope| scope.within.clone())
        .flatten()
        .unwrap_or_else(|| tracing::Span::current().context())
}

/// Runs `future` (a part of the current request: a DataLoader batch) with its round trips under `span`
/// rather than the request's; `None` (spans are not exported, or the request is not sampled) runs it as is.
pub async fn within<F: Future>(span: Option<Context>, future: F) -> F::Output {
    match span {
        Some(span) => narrowed(|scope| scope.within = Some(span), future).await,
        None => future.await,
    }
}

/// Runs `future` as the consequence of the write traced as `cause` (its fan-out): the events it publishes
/// carry that cause.
pub async fn caused_by<F: Future>(cause: Option<TraceParent>, future: F) -> F::Output {
    narrowed(|scope| scope.caused_by = cause, future).await
}

/// The `traceparent` an event published now carries: the write it is a consequence of ([`caused_by`]),
/// else the span this task works in (a mutation's GraphQL span). `None` unless spans are exported.
pub fn cause() -> Option<TraceParent> {
    if !traces::exporting() {
        return None;
    }
    let context = with_scope(|scope| {
        if let Some(cause) = scope.caused_by {
            return Err(cause);
        }
        Ok(scope
            .within
            .clone()
            .or_else(|| scope.state.as_ref().map(|state| state.trace_parent())))
    });
    let context = match context {
        Some(Err(cause)) => return Some(cause),
        Some(Ok(context)) => context,
        None => None,
    };
    traces::trace_parent(&context.unwrap_or_else(|| tracing::Span::current().context()))
}

/// One Redis round trip being timed for its span.
pub struct RedisTrip(Option<RoundTrip>);

impl RedisTrip {
    /// The round trip of `command` is over (`failed`: with an error or no answer in time).
    pub fn end(self, command: &'static str, failed: bool) {
        if let Some(trip) = self.0 {
            trip.end_redis(command, failed);
        }
    }
}

/// Runs `future` as the spending of the request's points budget, which every request does once: its
/// counter round trips are not counted in the request's cache round trips (they tell what the reads cost).
pub async fn budgeting<F: Future>(future: F) -> F::Output {
    narrowed(|scope| scope.budgeting = true, future).await
}

/// Lets the reads of the current request go to the replica, or not (a no-op outside a request). Outside
/// a request (CSV export, the CLI) reads use the primary.
pub fn allow_replica(allowed: bool) {
    let _ = with_state(|state| state.replica.store(allowed, Ordering::Relaxed));
}

/// May the current read go to the replica?
pub fn replica_allowed() -> bool {
    with_state(|state| state.replica_allowed()).unwrap_or(false)
}

/// Measures one database round trip.
pub struct DbTrip {
    started: Instant,
    trace: Option<RoundTrip>,
    at: &'static Location<'static>,
    summary: Option<&'static str>,
}

impl DbTrip {
    /// Names the round trip for its span: the `db.query.summary` (`SELECT post`, `INSERT comment`…),
    /// its first word the `db.operation.name`. Without it the span is named after the database and
    /// carries the caller's file and line.
    pub fn summary(mut self, summary: &'static str) -> Self {
        self.summary = Some(summary);
        self
    }
}

/// A round trip slower than this is logged (with the request's id, from its span).
const SLOW_ROUND_TRIP: Duration = Duration::from_millis(200);

impl Drop for DbTrip {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        if let Some(trip) = self.trace.take() {
            trip.end_db(self.at, self.summary);
        }
        metrics::db_query(elapsed);
        if elapsed >= SLOW_ROUND_TRIP {
            tracing::warn!(
                elapsed_ms = elapsed.as_secs_f64() * 1000.0,
                "slow database round trip"
            );
        }
    }
}

#[cfg(test)]
mod tests;
