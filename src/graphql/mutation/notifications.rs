//! Marking the viewer's notifications read (docs/notifications.md).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use crate::domain::{AppError, NotificationId};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{AppResultExt, GqlResult};
use crate::graphql::ids;

/// Which notifications to mark read: `ids`, or `all: true` — one of the two.
#[derive(InputObject)]
pub struct MarkNotificationsReadInput {
    /// These notifications (at most 100; ids of other members' notifications change nothing).
    pub ids: Option<Vec<ID>>,
    /// True: every notification of the viewer.
    pub all: Option<bool>,
}

/// The result of `markNotificationsRead`.
#[derive(SimpleObject)]
pub struct MarkNotificationsReadPayload {
    /// The viewer's notifications still unread after the change.
    pub unread_count: i64,
}

#[derive(Default)]
pub struct NotificationMutations;

#[Object]
impl NotificationMutations {
    /// Marks the viewer's notifications read: those of `ids`, or all of them. Idempotent.
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The notifications to mark read.")] input: MarkNotificationsReadInput,
    ) -> GqlResult<MarkNotificationsReadPayload> {
        let actor = ctx.actor()?;
        let ids = match (input.ids, input.all) {
            (Some(ids), None | Some(false)) => {
                let decoded = ids
                    .iter()
                    .map(|id| ids::decode_as("ids", id, NotificationId::KIND).map(NotificationId))
                    .collect::<Result<Vec<_>, _>>()
                    .gql()?;
                Some(decoded)
            }
            (None, Some(true)) => None,
            _ => {
                return Err(AppError::invalid("input", "give either ids or all: true")).gql();
            }
        };
        let unread_count = ctx
            .services()?
            .inbox
            .mark_read(actor, ids.as_deref())
            .await
            .gql()?;
        Ok(MarkNotificationsReadPayload { unread_count })
    }
}
