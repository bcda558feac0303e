//! One resolution per event per process: the hub hears every board event once, reads the entities it is
//! about once (through the caches, like any read by id), and hands the result to every local subscriber.
//! Subscribers then only filter and apply their own rights; N subscribers of one post cost one resolution
//! per event, not N reads.

use std::sync::{Arc, Weak};

use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::app::BoardService;
use crate::domain::{AppResult, BoardEvent, CategoryId, Comment, EventKind, Post, UserId};
use crate::ports::{Events, Notice};
use crate::request::RequestState;
use crate::telemetry::metrics;

/// An event with what subscribers need to know about it.
#[derive(Debug)]
pub struct Resolved {
    pub event: BoardEvent,
    /// The post the event is about (deleted ones too), unless it is gone.
    pub post: Option<Post>,
    /// The comment of a `comment_created` event.
    pub comment: Option<Comment>,
    /// For `post_created`: the post's category and every category above it.
    pub categories: Vec<CategoryId>,
    /// For a removed post: the moderators of its category and of every category above it (who, with its
    /// author and admins, still see it).
    pub moderators: Vec<UserId>,
}

pub struct EventHub {
    feed: broadcast::Sender<Arc<Resolved>>,
}

impl EventHub {
    /// Follows `events` for as long as `board` lives. Each local subscriber may fall `buffer` resolved
    /// events behind before it misses some (see [`RecvError::Lagged`]).
    pub fn start(events: &Arc<dyn Events>, board: &Arc<BoardService>, buffer: usize) -> Arc<Self> {
        let (feed, _) = broadcast::channel(buffer.max(1));
        let hub = Arc::new(Self { feed: feed.clone() });
        tokio::spawn(follow(events.subscribe(), Arc::downgrade(board), feed));
        hub
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Resolved>> {
        self.feed.subscribe()
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
    )
}

async fn follow(
    mut notices: broadcast::Receiver<Notice>,
    board: Weak<BoardService>,
    feed: broadcast::Sender<Arc<Resolved>>,
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
        let Some(board) = board.upgrade() else { return };
        if feed.receiver_count() == 0 || !wanted(event.kind) {
            continue;
        }
        match resolve(&board, event).await {
            Ok(resolved) => {
                let _ = feed.send(Arc::new(resolved));
            }
            Err(err) => {
                tracing::warn!(error = %err, kind = event.kind.as_str(), post = %event.ids.post, "could not resolve a board event for subscribers");
                metrics::events_dropped("unresolved", 1);
            }
        }
    }
}

/// Reads what `event` is about, counting the round trips. Near reads wait for a sync round that began
/// after the event arrived, so a write made on another process is seen.
async fn resolve(board: &BoardService, event: BoardEvent) -> AppResult<Resolved> {
    let state = RequestState::begin();
    let work = async {
        let post = board
            .posts_by_ids(&[event.ids.post])
            .await?
            .remove(&event.ids.post);
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
            Some(post) if post.removal.is_some() => {
                let tree = board.category_tree().await?;
                tree.with_ancestors(post.category_id)
                    .into_iter()
                    .filter_map(|c| tree.get(c))
                    .flat_map(|c| c.moderators.iter().copied())
                    .collect()
            }
            _ => Vec::new(),
        };
        Ok(Resolved {
            event,
            post,
            comment,
            categories,
            moderators,
        })
    };
    let resolved = state.run(work).await;
    metrics::event_resolved(state.db(), state.cache());
    resolved
}
