//! Reports: a member flags a post or comment for the moderators of its category. One open report per
//! member and subject; a moderator resolves it once (dismiss, remove, remove and ban the author).

use chrono::{DateTime, Utc};

use super::errors::{AppError, AppResult};
use super::ids::{CategoryId, CommentId, PostId, ReportId, UserId};
use super::validation;

/// The longest note a reporter may add.
pub const NOTE_MAX: usize = 1000;

/// Declares an enum stored by name (`report.reason`, `report.status`, `report.resolution`).
macro_rules! stored_enum {
    ($name:ident { $($variant:ident => $db:literal),* $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),* }

        impl $name {
            pub fn as_db_name(self) -> &'static str {
                match self { $(Self::$variant => $db),* }
            }

            pub fn from_db_name(name: &str) -> Option<Self> {
                match name { $($db => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

stored_enum!(ReportReason {
    Spam => "SPAM",
    Harassment => "HARASSMENT",
    OffTopic => "OFF_TOPIC",
    Illegal => "ILLEGAL",
    Other => "OTHER",
});

stored_enum!(ReportStatus {
    Open => "OPEN",
    Resolved => "RESOLVED",
    Dismissed => "DISMISSED",
});

stored_enum!(ReportAction {
    Dismiss => "DISMISS",
    Remove => "REMOVE",
    RemoveAndBan => "REMOVE_AND_BAN",
});

impl ReportAction {
    /// The status a report resolved with this action ends in.
    pub fn status(self) -> ReportStatus {
        match self {
            Self::Dismiss => ReportStatus::Dismissed,
            Self::Remove | Self::RemoveAndBan => ReportStatus::Resolved,
        }
    }

    pub fn removes(self) -> bool {
        self != Self::Dismiss
    }
}

/// What a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportSubject {
    Post(PostId),
    Comment(CommentId),
}

impl ReportSubject {
    /// (`report.subject_kind`, `report.subject_id`).
    pub fn to_db(self) -> (&'static str, i64) {
        match self {
            Self::Post(id) => (PostId::KIND, id.0),
            Self::Comment(id) => (CommentId::KIND, id.0),
        }
    }

    pub fn from_db(kind: &str, id: i64) -> Option<Self> {
        match kind {
            PostId::KIND => Some(Self::Post(PostId(id))),
            CommentId::KIND => Some(Self::Comment(CommentId(id))),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub id: ReportId,
    pub reporter: UserId,
    pub subject: ReportSubject,
    /// The subject's category when reported (the queue it lands in).
    pub category_id: CategoryId,
    pub reason: ReportReason,
    pub note: Option<String>,
    pub status: ReportStatus,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<ReportAction>,
}

/// A reporter's note: at most [`NOTE_MAX`] characters; blank is none.
pub fn note(raw: Option<&str>) -> AppResult<Option<String>> {
    Ok(raw
        .map(|n| validation::text("note", n, 0, NOTE_MAX, true))
        .transpose()?
        .filter(|n| !n.is_empty()))
}

/// The removal reason of a report's `REMOVE`: the moderator's, else the report's reason.
pub fn removal_reason(given: Option<String>, reason: ReportReason) -> String {
    given.unwrap_or_else(|| format!("reported: {}", reason.as_db_name()))
}

/// The refusal of a second resolution.
pub fn already_resolved() -> AppError {
    AppError::conflict("reportId", "this report is already resolved")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for reason in [
            ReportReason::Spam,
            ReportReason::Harassment,
            ReportReason::OffTopic,
            ReportReason::Illegal,
            ReportReason::Other,
        ] {
            assert_eq!(
                ReportReason::from_db_name(reason.as_db_name()),
                Some(reason)
            );
        }
        assert_eq!(ReportStatus::from_db_name("CLOSED"), None);
        let subject = ReportSubject::Comment(CommentId(7));
        let (kind, id) = subject.to_db();
        assert_eq!(ReportSubject::from_db(kind, id), Some(subject));
    }

    #[test]
    fn actions_end_in_their_status() {
        assert_eq!(ReportAction::Dismiss.status(), ReportStatus::Dismissed);
        assert_eq!(ReportAction::RemoveAndBan.status(), ReportStatus::Resolved);
        assert!(!ReportAction::Dismiss.removes());
        assert_eq!(
            removal_reason(None, ReportReason::OffTopic),
            "reported: OFF_TOPIC"
        );
    }

    #[test]
    fn notes_are_bounded_and_blank_is_none() {
        assert_eq!(note(Some("  ")).unwrap(), None);
        assert_eq!(
            note(Some("스팸 링크 spam")).unwrap().as_deref(),
            Some("스팸 링크 spam")
        );
        assert!(note(Some(&"가".repeat(NOTE_MAX + 1))).is_err());
    }
}
