//! The `Subscription` root. Each field filters the process's resolved events ([`hub`]) and applies the
//! subscriber's own rights; the selected fields then resolve through the subscriber's loaders, emptied
//! before each event so nothing read for an earlier event is served again. While spans are exported each
//! delivery is a span (`deliver <field>`), ended by the transport once the answer is queued (docs/traces.md).

pub mod hub;

use std::sync::Arc;

use async_graphql::{Context, ID, Subscription as SubscriptionRoot};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::Notify;
use tokio::sync::broadcast::error::RecvError;

use self::hub::{EventHub, Resolved};
use super::RequestContext;
use super::context::ContextExt;
use super::errors::{AppResultExt, GqlResult, to_gql};
use super::ids;
use super::types::notification::NotificationNode;
use super::types::report::ReportNode;
use super::types::{CommentNode, PostNode};
use crate::domain::{Access, AppError, EventKind, Post, PostId, User};
use crate::request;
use crate::telemetry::{metrics, traces};

/// What a subscription needs beside its request context: the process's events, where to say that it
/// fell too far behind (its connection is then closed), and where to say that it listens (so an event
/// written after the transport saw it start is heard).
pub struct Subscriber {
    pub hub: Arc<EventHub>,
    pub too_slow: Arc<Notify>,
    pub listening: Notify,
}

fn internal(what: &str) -> async_graphql::Error {
    to_gql(&AppError::internal(what.to_owned()))
}

/// The events `pick` accepts for this subscriber, as items; `field` names the subscription in metrics.
fn feed<T, F>(ctx: &Context<'_>, field: &'static str, pick: F) -> GqlResult<BoxStream<'static, T>>
where
    T: Send + 'static,
    F: Fn(&Resolved, Option<&User>) -> Option<T> + Send + Sync + 'static,
{
    let subscriber = ctx
        .data::<Arc<Subscriber>>()
        .map_err(|_| internal("subscriptions run over graphql-ws only"))?;
    let request = ctx
        .data::<Arc<RequestContext>>()
        .map_err(|_| internal("request context missing"))?
        .clone();
    let too_slow = Arc::clone(&subscriber.too_slow);
    let operation: Option<Arc<str>> = ctx.query_env.operation_name.as_deref().map(Arc::from);
    let events = subscriber.hub.subscribe();
    subscriber.listening.notify_one();
    Ok(futures::stream::unfold(
        (events, request, pick, too_slow),
        move |(mut events, request, pick, too_slow)| {
            let operation = operation.clone();
            async move {
                loop {
                    match events.recv().await {
                        Ok(resolved) => {
                            let Some(item) = pick(&resolved, request.viewer()) else {
                                continue;
                            };
                            // The selection is resolved for this event from here: its reads hang off the
                            // delivery's span, which the transport ends once the answer is queued.
                            if let Some(state) = request::current() {
                                state.handling(traces::delivery_span(
                                    field,
                                    operation.as_deref(),
                                    resolved.span.as_ref(),
                                    resolved.event.cause,
                                ));
                            }
                            // The previous event's reads are stale now; the event's own entities are fresh.
                            request.loaders.forget_all();
                            if let Some(post) = &resolved.post {
                                request.loaders.board.feed_one(post.id, post.clone()).await;
                            }
                            if let Some(comment) = &resolved.comment {
                                request
                                    .loaders
                                    .board
                                    .feed_one(comment.id, comment.clone())
                                    .await;
                            }
                            metrics::event_delivered(field);
                            return Some((item, (events, request, pick, too_slow)));
                        }
                        Err(RecvError::Lagged(n)) => {
                            metrics::events_dropped("slow_subscriber", n);
                            too_slow.notify_one();
                            return None;
                        }
                        Err(RecvError::Closed) => return None,
                    }
                }
            }
        },
    )
    .boxed())
}

/// The post a subscription names, checked once when it starts: it must exist and be visible.
async fn visible_post(ctx: &Context<'_>, id: &ID) -> GqlResult<PostId> {
    let post = ids::decode_post("postId", id).gql()?;
    let found = ctx.loaders()?.board.load_one(post).await.gql()?;
    match crate::graphql::types::moderation::visible_post(ctx, found).await? {
        Some(_) => Ok(post),
        None => Err(AppError::NotFound("no such post".into())).gql(),
    }
}

/// Whether `viewer` sees the event's post (a removed one: its author, the moderators the event names,
/// admins).
fn sees_post(resolved: &Resolved, post: &Post, viewer: Option<&User>) -> bool {
    match post.access(viewer) {
        Access::Visible => true,
        Access::Hidden => false,
        Access::ModeratorsOf(_) | Access::ModeratorsOfPost(_) => {
            viewer.is_some_and(|v| v.may_act() && resolved.moderators.contains(&v.id))
        }
    }
}

pub struct Subscription;

/// Events pushed over graphql-ws (`graphql-transport-ws`) on `/graphql`.
#[SubscriptionRoot]
impl Subscription {
    /// Each new post; with `categoryId`, only posts in that category or below it.
    async fn post_added(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Only posts in this category or one of its descendants; absent: all posts."
        )]
        category_id: Option<ID>,
    ) -> async_graphql::Result<BoxStream<'static, PostNode>> {
        let category = category_id
            .as_ref()
            .map(|id| ids::decode_category("categoryId", id))
            .transpose()
            .gql()?;
        if let Some(category) = category
            && ctx
                .loaders()?
                .board
                .load_one(category)
                .await
                .gql()?
                .is_none()
        {
            return Err(AppError::invalid("categoryId", "no such category")).gql();
        }
        feed(ctx, "postAdded", move |resolved, viewer| {
            let post = resolved.post.as_ref()?;
            let within = category.is_none_or(|c| resolved.categories.contains(&c));
            (resolved.event.kind == EventKind::PostCreated
                && within
                && sees_post(resolved, post, viewer))
            .then(|| PostNode(post.clone()))
        })
    }

    /// Each new comment on one post.
    async fn comment_added(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The post whose comments to follow.")] post_id: ID,
    ) -> async_graphql::Result<BoxStream<'static, CommentNode>> {
        let post = visible_post(ctx, &post_id).await?;
        feed(ctx, "commentAdded", move |resolved, viewer| {
            let comment = resolved.comment.as_ref()?;
            (resolved.event.kind == EventKind::CommentCreated
                && resolved.event.ids.post == Some(post)
                && comment.access(viewer) == Access::Visible)
                .then(|| CommentNode(comment.clone()))
        })
    }

    /// One post, each time it changes: an edit, a vote, its comment count, its deletion, or a moderator's
    /// removal, restoration, lock or pin. `null` when the viewer may no longer see the post (a deleted post:
    /// admins see it, `isActive: false`; a removed one: also its author and the category's moderators).
    async fn post_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The post to follow.")] post_id: ID,
    ) -> async_graphql::Result<BoxStream<'static, Option<PostNode>>> {
        let post = visible_post(ctx, &post_id).await?;
        feed(ctx, "postUpdated", move |resolved, viewer| {
            if !(resolved.event.updates_post() && resolved.event.ids.post == Some(post)) {
                return None;
            }
            let found = resolved.post.as_ref()?;
            Some(sees_post(resolved, found, viewer).then(|| PostNode(found.clone())))
        })
    }

    /// Each new notification of the signed-in viewer (`User.notifications`), as it is written. Anonymous
    /// sockets are refused: `UNAUTHENTICATED`.
    async fn notification_added(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<BoxStream<'static, NotificationNode>> {
        let viewer = ctx.actor()?.id;
        feed(ctx, "notificationAdded", move |resolved, _| {
            if resolved.event.kind != EventKind::NotificationsAdded {
                return None;
            }
            resolved
                .notifications
                .iter()
                .find(|n| n.user == viewer)
                .map(|n| NotificationNode(n.clone()))
        })
    }

    /// Each new report in the queue of `categoryId` and the categories below it (absent: every category
    /// the viewer moderates), for its moderators and admins. Anyone who may not read that queue
    /// (`Query.reports`) is refused: `FORBIDDEN`.
    async fn report_added(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Only reports in this category or one of its descendants; absent: every category the viewer moderates."
        )]
        category_id: Option<ID>,
    ) -> async_graphql::Result<BoxStream<'static, ReportNode>> {
        let category = category_id
            .as_ref()
            .map(|id| ids::decode_category("categoryId", id))
            .transpose()
            .gql()?;
        let actor = ctx.actor()?;
        ctx.services()?
            .trust
            .require_queue(actor, category)
            .await
            .gql()?;
        feed(ctx, "reportAdded", move |resolved, viewer| {
            let report = resolved.report.as_ref()?;
            let viewer = viewer?;
            let within = category.is_none_or(|c| resolved.categories.contains(&c));
            let moderates =
                viewer.may_act() && (viewer.is_admin() || resolved.moderators.contains(&viewer.id));
            (resolved.event.kind == EventKind::ReportOpened && within && moderates)
                .then(|| ReportNode(report.clone()))
        })
    }
}
