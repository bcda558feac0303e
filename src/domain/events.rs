//! What a committed write tells subscribers: `{kind, ids}`, never the content (each subscriber reads that
//! through the caches with its own rights), and, while traces are exported, the W3C `traceparent` of the
//! write, which the spans that handle the event link to (docs/traces.md).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
    /// The span of the write that caused it (set only while traces are exported). Events without it
    /// (from a process that does not export, or from before it existed) read as `None`, and so does one
    /// whose value is not a `traceparent`: it never makes an event unreadable.
    #[serde(
        default,
        rename = "traceparent",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient"
    )]
    pub cause: Option<TraceParent>,
}

/// A W3C trace context (`traceparent`, version 00): the trace and span of a write, and whether it was
/// sampled. Travels as its header text, `00-<32 hex>-<16 hex>-<2 hex>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    pub trace_id: u128,
    pub span_id: u64,
    pub sampled: bool,
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id,
            self.span_id,
            u8::from(self.sampled)
        )
    }
}

impl FromStr for TraceParent {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const NOT: &str = "not a traceparent";
        let mut parts = text.split('-');
        let (Some("00"), Some(trace), Some(span), Some(flags), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(NOT);
        };
        let hex = |part: &str, len: usize| {
            (part.len() == len && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
                .then_some(())
                .ok_or(NOT)
        };
        hex(trace, 32)?;
        hex(span, 16)?;
        hex(flags, 2)?;
        let trace_id = u128::from_str_radix(trace, 16).map_err(|_| NOT)?;
        let span_id = u64::from_str_radix(span, 16).map_err(|_| NOT)?;
        let flags = u8::from_str_radix(flags, 16).map_err(|_| NOT)?;
        if trace_id == 0 || span_id == 0 {
            return Err(NOT);
        }
        Ok(Self {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }
}

impl Serialize for TraceParent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A `traceparent` that does not parse is dropped, not an error: the event still reaches its subscribers.
fn lenient<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<TraceParent>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    Ok(text.and_then(|t| t.parse().ok()))
}

impl BoardEvent {
    /// The same event, caused by the write traced as `cause` (kept if it has one already).
    pub fn caused_by(mut self, cause: Option<TraceParent>) -> Self {
        self.cause = self.cause.or(cause);
        self
    }

    pub fn post(kind: EventKind, post: PostId, category: Option<CategoryId>) -> Self {
        Self {
            kind,
            ids: EventIds {
                post: Some(post),
                comment: None,
                category,
                ..EventIds::default()
            },
            cause: None,
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
            cause: None,
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
            cause: None,
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
            cause: None,
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
            cause: None,
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

    #[test]
    fn the_cause_travels_as_a_traceparent_and_old_payloads_still_read() {
        let cause: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap();
        assert_eq!(cause.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(cause.span_id, 0x00f067aa0ba902b7);
        assert!(cause.sampled);
        let event = BoardEvent::comment(EventKind::CommentCreated, PostId(4), CommentId(9))
            .caused_by(Some(cause));
        let text = serde_json::to_string(&event).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"comment_created","ids":{"post":4,"comment":9},"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}"#
        );
        assert_eq!(serde_json::from_str::<BoardEvent>(&text).unwrap(), event);
        // A payload from before (or from a process that does not export traces) has none.
        let old: BoardEvent =
            serde_json::from_str(r#"{"kind":"comment_created","ids":{"post":4,"comment":9}}"#)
                .unwrap();
        assert_eq!(old.cause, None);
        // A value that is not a traceparent is dropped, never the event.
        for bad in [
            r#""nonsense""#,
            r#""00-00000000000000000000000000000000-00f067aa0ba902b7-01""#,
            r#""00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01""#,
            r#""01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx""#,
            "null",
        ] {
            let text = format!(r#"{{"kind":"post_voted","ids":{{"post":4}},"traceparent":{bad}}}"#);
            let read: BoardEvent = serde_json::from_str(&text).unwrap();
            assert_eq!(read.cause, None, "{bad}");
        }
        // A cause already set is kept.
        let other = TraceParent {
            trace_id: 1,
            span_id: 2,
            sampled: false,
        };
        assert_eq!(event.caused_by(Some(other)).cause, Some(cause));
        assert_eq!(
            other.to_string(),
            "00-00000000000000000000000000000001-0000000000000002-00"
        );
    }
}
