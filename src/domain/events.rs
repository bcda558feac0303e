//! What a committed write tells subscribers: `{kind, ids}`, never the content (each subscriber reads that
//! through the caches with its own rights).

use serde::{Deserialize, Serialize};

use super::ids::{CategoryId, CommentId, NotificationId, PostId, ReportId, UserId};
use super::notifications::Source;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    PostCreated,
    PostEdited,
    PostDeleted,
    /// A vote added or taken back.
    PostVoted,
    CommentCreated,
    CommentEdited,
    CommentDeleted,
    CommentVoted,
    /// A member reported a post or comment (for the moderators of its category).
    ReportOpened,
    /// An account changed (blocked, resigned, its role or profile): its sockets check it at once.
    AccountChanged,
    /// A fan-out wrote notifications from one source for members in one id range (`notificationAdded`).
    NotificationsAdded,
}

impl EventKind {
    pub const ALL: [EventKind; 11] = [
        Self::PostCreated,
        Self::PostEdited,
        Self::PostDeleted,
        Self::PostVoted,
        Self::CommentCreated,
        Self::CommentEdited,
        Self::CommentDeleted,
        Self::CommentVoted,
        Self::ReportOpened,
        Self::AccountChanged,
        Self::NotificationsAdded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PostCreated => "post_created",
            Self::PostEdited => "post_edited",
            Self::PostDeleted => "post_deleted",
            Self::PostVoted => "post_voted",
            Self::CommentCreated => "comment_created",
            Self::CommentEdited => "comment_edited",
            Self::CommentDeleted => "comment_deleted",
            Self::CommentVoted => "comment_voted",
            Self::ReportOpened => "report_opened",
            Self::AccountChanged => "account_changed",
            Self::NotificationsAdded => "notifications_added",
        }
    }
}

/// The rows an event is about. `post` is set for the board's kinds (a comment's post too); `category` for
/// post events and reports; `report` for reports; `source` and `notifications` (the first and last id the
/// chunk wrote) for notifications; `users` (the one account) for an account change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventIds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post: Option<PostId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<CommentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<CategoryId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<(NotificationId, NotificationId)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<(UserId, UserId)>,
}

/// One committed change, as published to every process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardEvent {
    pub kind: EventKind,
    pub ids: EventIds,
}

impl BoardEvent {
    pub fn post(kind: EventKind, post: PostId, category: Option<CategoryId>) -> Self {
        Self {
            kind,
            ids: EventIds {
                post: Some(post),
                comment: None,
                category,
                ..EventIds::default()
            },
        }
    }

    pub fn comment(kind: EventKind, post: PostId, comment: CommentId) -> Self {
        Self {
            kind,
            ids: EventIds {
                post: Some(post),
                comment: Some(comment),
                ..EventIds::default()
            },
        }
    }

    /// A new report of `post` (or of `comment` on it), in the queue of `category`.
    pub fn report(
        report: ReportId,
        category: CategoryId,
        post: PostId,
        comment: Option<CommentId>,
    ) -> Self {
        Self {
            kind: EventKind::ReportOpened,
            ids: EventIds {
                post: Some(post),
                comment,
                category: Some(category),
                report: Some(report),
                ..EventIds::default()
            },
        }
    }

    /// A change of `user`'s account.
    pub fn account(user: UserId) -> Self {
        Self {
            kind: EventKind::AccountChanged,
            ids: EventIds {
                users: Some((user, user)),
                ..EventIds::default()
            },
        }
    }

    /// The notifications one fan-out chunk of `source` wrote: ids `first..=last` (the hub reads those of
    /// `source` among them; a chunk's ids are above every earlier chunk's of the same source).
    pub fn notifications(source: Source, first: NotificationId, last: NotificationId) -> Self {
        Self {
            kind: EventKind::NotificationsAdded,
            ids: EventIds {
                source: Some(source),
                notifications: Some((first, last)),
                ..EventIds::default()
            },
        }
    }

    /// Whether the event changes what `postUpdated` shows of its post: an edit, a deletion, a vote, or a
    /// change of its comment count.
    pub fn updates_post(&self) -> bool {
        matches!(
            self.kind,
            EventKind::PostEdited
                | EventKind::PostDeleted
                | EventKind::PostVoted
                | EventKind::CommentCreated
                | EventKind::CommentDeleted
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_travel_as_kind_and_ids() {
        let event = BoardEvent::comment(EventKind::CommentCreated, PostId(4), CommentId(9));
        let text = serde_json::to_string(&event).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"comment_created","ids":{"post":4,"comment":9}}"#
        );
        assert_eq!(serde_json::from_str::<BoardEvent>(&text).unwrap(), event);
        assert!(event.updates_post());
        assert!(
            !BoardEvent::comment(EventKind::CommentEdited, PostId(4), CommentId(9)).updates_post()
        );
        assert!(
            !BoardEvent::post(EventKind::PostCreated, PostId(4), Some(CategoryId(1)))
                .updates_post()
        );
    }

    #[test]
    fn a_report_travels_with_its_category_and_subject() {
        let event = BoardEvent::report(ReportId(7), CategoryId(3), PostId(4), Some(CommentId(9)));
        let text = serde_json::to_string(&event).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"report_opened","ids":{"post":4,"comment":9,"category":3,"report":7}}"#
        );
        assert_eq!(serde_json::from_str::<BoardEvent>(&text).unwrap(), event);
        assert!(!event.updates_post());
    }
}
