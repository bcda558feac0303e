//! One resolution per event per process: the hub hears every board event once, reads the entities it is
//! about once (through the caches, like any read by id), and hands the result to every local subscriber.
//! Subscribers then only filter and apply their own rights; N subscribers of one post cost one resolution
//! per event, not N reads. While spans are exported, handling an event is a span (`process <kind>`) linked
//! to the write that caused it, and each delivery a child of it (docs/traces.md).

use std::sync::{Arc, Weak};

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::app::{BoardService, InboxService, TrustService};
use crate::domain::notifications::Notification;
use crate::domain::reports::Report;
use crate::domain::{AppResult, BoardEvent, CategoryId, Comment, EventKind, Post, UserId};
use crate::ports::{Events, Notice};
use crate::request::RequestState;
use crate::telemetry::{metrics, traces};

/// An event with what subscribers need to know about it.
#[derive(Debug)]
pub struct Resolved {
    pub event: BoardEvent,
    /// The post the event is about (deleted ones too), unless it is gone.
    pub post: Option<Post>,
    /// The comment of a `comment_created` event.
    pub comment: Option<Comment>,
    /// The report of a `report_opened` event.
    pub report: Option<Report>,
    /// The notifications of a `notifications_added` event (one fan-out chunk).
    pub notifications: Vec<Notification>,
    /// For `post_created` and `report_opened`: the post's (report's) category and every category above it.
    pub categories: Vec<CategoryId>,
    /// For a removed post and a report: the moderators of its category and of every category above it
    /// (who, with admins, see it).
    pub moderators: Vec<UserId>,
    /// The hub's span of this event, while spans are exported: each delivery is its child.
    pub span: Option<SpanContext>,
}

/// The services an event is resolved through, for as long as they live.
struct Readers {
    board: Weak<BoardService>,
    trust: Weak<TrustService>,
    inbox: Weak<InboxService>,
}

pub struct EventHub {
    feed: broadcast::Sender<Arc<Resolved>>,
    /// Accounts that changed (on any process), for the sockets they have open.
    accounts: broadcast::Sender<UserId>,
}

/// Account changes one socket may fall behind before it checks its own account anyway.
const ACCOUNT_BUFFER: usize = 1024;

impl EventHub {
    /// Follows `events` for as long as `board` lives. Each local subscriber may fall `buffer` resolved
    /// events behind before it misses some (see [`RecvError::Lagged`]).
    pub fn start(
        events: &Arc<dyn Events>,
        board: &Arc<BoardService>,
        trust: &Arc<TrustService>,
        inbox: &Arc<InboxService>,
        buffer: usize,
    ) -> Arc<Self> {
        let (feed, _) = broadcast::channel(buffer.max(1));
        let (accounts, _) = broadcast::channel(ACCOUNT_BUFFER);
        let hub = Arc::new(Self {
            feed: feed.clone(),
            accounts: accounts.clone(),
        });
        let readers = Readers {
            board: Arc::downgrade(board),
            trust: Arc::downgrade(trust),
            inbox: Arc::downgrade(inbox),
        };
        tokio::spawn(follow(events.subscribe(), readers, feed, accounts));
        hub
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Resolved>> {
        self.feed.subscribe()
    }

    /// Every account changed from now on (blocked, resigned, its role): a socket of that account checks it
    /// at once. `Lagged` means some were missed: check anyway.
    pub fn account_changes(&self) -> broadcast::Receiver<UserId> {
        self.accounts.subscribe()
    }
}

/// Whether a subscription field listens to events of this kind at all.
fn wanted(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::PostCreated
            | EventKind::PostEdited
            | EventKind::PostDeleted
            | EventKind::PostVoted
            | EventKind::CommentCreated
            | EventKind::CommentDeleted
            | EventKind::ReportOpened
            | EventKind::NotificationsAdded
    )
}

async fn follow(
    mut notices: broadcast::Receiver<Notice>,
    readers: Readers,
    feed: broadcast::Sender<Arc<Resolved>>,
    accounts: broadcast::Sender<UserId>,
) {
    loop {
        let event = match notices.recv().await {
            Ok(Notice::Event(event)) => event,
            Ok(Notice::Lost) => continue,
            Ok(Notice::Live) => {
                tracing::info!("board events flow: subscriptions hear new writes again");
                continue;
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "this process fell behind the board events");
                metrics::events_dropped("lagged", n);
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        if event.kind == EventKind::AccountChanged {
            if let Some((user, _)) = event.ids.users {
                let _ = accounts.send(user);
            }
            continue;
        }
        let (Some(board), Some(trust), Some(inbox)) = (
            readers.board.upgrade(),
            readers.trust.upgrade(),
            readers.inbox.upgrade(),
        ) else {
            return;
        };
        if feed.receiver_count() == 0 || !wanted(event.kind) {
            continue;
        }
        let span = traces::event_span(event.kind.as_str(), event.cause);
        let resolved = match event.kind {
            EventKind::ReportOpened => resolve_report(&board, &trust, event, span.clone()).await,
            EventKind::NotificationsAdded => {
                resolve_notifications(&inbox, event, span.clone()).await
            }
            _ => resolve(&board, event, span.clone()).await,
        };
        if let Some(span) = &span {
            traces::end(span);
        }
        match resolved {
            Ok(mut resolved) => {
                resolved.span = span.map(|span| span.span().span_context().clone());
                let _ = feed.send(Arc::new(resolved));
            }
            Err(err) => {
                tracing::warn!(error = %err, kind = event.kind.as_str(), post = event.ids.post.map(|p| p.0), "could not resolve a board event for subscribers");
                metrics::events_dropped("unresolved", 1);
            }
        }
    }
}

/// Reads what `event` is about, counting the round trips. Near reads wait for a sync round that began
/// after the event arrived, so a write made on another process is seen.
async fn resolve(
    board: &BoardService,
    event: BoardEvent,
    span: Option<Context>,
) -> AppResult<Resolved> {
    let state = RequestState::begin();
    state.handling(span);
    let work = async {
        let post = match event.ids.post {
            Some(id) => board.posts_by_ids(&[id]).await?.remove(&id),
            None => None,
        };
        let comment = match (event.kind, event.ids.comment) {
            (EventKind::CommentCreated, Some(id)) => {
                board.comments_by_ids(&[id]).await?.remove(&id)
            }
            _ => None,
        };
        let categories = match (&post, event.kind) {
            (Some(post), EventKind::PostCreated) => board
                .category_tree()
                .await?
                .with_ancestors(post.category_id),
            _ => Vec::new(),
        };
        let moderators = match &post {
            Some(post) if post.removal.is_some() => moderators_of(board, post.category_id).await?,
            _ => Vec::new(),
        };
        Ok(Resolved {
            event,
            post,
            comment,
            report: None,
            notifications: Vec::new(),
            categories,
            moderators,
            span: None,
        })
    };
    let resolved = state.run(work).await;
    metrics::event_resolved(state.db(), state.cache());
    resolved
}

/// The moderators of `category` and of every category above it.
async fn moderators_of(board: &BoardService, category: CategoryId) -> AppResult<Vec<UserId>> {
    let tree = board.category_tree().await?;
    Ok(tree
        .with_ancestors(category)
        .into_iter()
        .filter_map(|c| tree.get(c))
        .flat_map(|c| c.moderators.iter().copied())
        .collect())
}

/// Reads the report of a `report_opened` event and who may see it: the moderators of its category (and
/// above), as the category tree says now (a moderator dismissed since the report was made hears nothing).
async fn resolve_report(
    board: &BoardService,
    trust: &TrustService,
    event: BoardEvent,
    span: Option<Context>,
) -> AppResult<Resolved> {
    let state = RequestState::begin();
    state.handling(span);
    let work = async {
        let report = match event.ids.report {
            Some(id) => trust.report_by_id(id).await?,
            None => None,
        };
        let (categories, moderators) = match &report {
            Some(report) => (
                board
                    .category_tree()
                    .await?
                    .with_ancestors(report.category_id),
                moderators_of(board, report.category_id).await?,
            ),
            None => (Vec::new(), Vec::new()),
        };
        Ok(Resolved {
            event,
            post: None,
            comment: None,
            report,
            notifications: Vec::new(),
            categories,
            moderators,
            span: None,
        })
    };
    let resolved = state.run(work).await;
    metrics::event_resolved(state.db(), state.cache());
    resolved
}

/// Reads the notifications of one fan-out chunk (each subscriber then picks its own).
async fn resolve_notifications(
    inbox: &InboxService,
    event: BoardEvent,
    span: Option<Context>,
) -> AppResult<Resolved> {
    let state = RequestState::begin();
    state.handling(span);
    let work = async {
        let notifications = match (event.ids.source, event.ids.notifications) {
            (Some(source), Some((first, last))) => inbox.chunk(source, first, last).await?,
            _ => Vec::new(),
        };
        Ok(Resolved {
            event,
            post: None,
            comment: None,
            report: None,
            notifications,
            categories: Vec::new(),
            moderators: Vec::new(),
            span: None,
        })
    };
    let resolved = state.run(work).await;
    metrics::event_resolved(state.db(), state.cache());
    resolved
}
