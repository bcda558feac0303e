//! Notifications: what a member is told about writes of others (a reply, a mention, activity on what they
//! watch, moderation of their content). Each comes from one committed write, its *source*; a source gives a
//! member at most one notification, of the most specific kind. Delivery: docs/notifications.md.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{CategoryId, CommentId, NotificationId, PostId, ReportId, UserId};
use super::names::name_key;

/// Inbox counts (`totalCount`, `unreadNotificationCount`) are exact up to this; beyond it they answer this
/// plus one ("more than"), so a count costs the same for a member with a million notifications.
pub const NOTIFICATION_COUNT_CAP: i64 = 10_000;

/// Members notified of mentions per text version; later ones are still rendered as links.
pub const MENTIONS_MAX: usize = 10;
/// Names of one version looked up to find them: names nobody has do not count against [`MENTIONS_MAX`],
/// but a text of hundreds of unknown names costs at most this many lookups.
pub const MENTION_LOOKUPS_MAX: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationKind {
    Reply,
    Mention,
    WatchedPostComment,
    WatchedCategoryPost,
    ContentRemoved,
    ReportResolved,
    Banned,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 7] = [
        Self::Reply,
        Self::Mention,
        Self::WatchedPostComment,
        Self::WatchedCategoryPost,
        Self::ContentRemoved,
        Self::ReportResolved,
        Self::Banned,
    ];

    /// The `notification.kind` value, also the metrics label.
    pub fn as_db_name(self) -> &'static str {
        match self {
            Self::Reply => "REPLY",
            Self::Mention => "MENTION",
            Self::WatchedPostComment => "WATCHED_POST_COMMENT",
            Self::WatchedCategoryPost => "WATCHED_CATEGORY_POST",
            Self::ContentRemoved => "CONTENT_REMOVED",
            Self::ReportResolved => "REPORT_RESOLVED",
            Self::Banned => "BANNED",
        }
    }

    pub fn from_db_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_db_name() == name)
    }

    /// A moderator's action on the member's content or account.
    pub fn about_moderation(self) -> bool {
        matches!(
            self,
            Self::ContentRemoved | Self::ReportResolved | Self::Banned
        )
    }

    /// When one write concerns a member in several ways, the notification they get is of the kind ranked
    /// highest: being named beats being answered, which beats watching.
    fn rank(self) -> u8 {
        match self {
            Self::ContentRemoved | Self::ReportResolved | Self::Banned => 4,
            Self::Mention => 3,
            Self::Reply => 2,
            Self::WatchedPostComment => 1,
            Self::WatchedCategoryPost => 0,
        }
    }
}

/// What kind of write a notification comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A version of a post (`version` 0: its creation).
    Post,
    /// A version of a comment.
    Comment,
    /// A moderation action (`version` 0).
    ModAction,
}

impl SourceKind {
    pub fn as_db_name(self) -> &'static str {
        match self {
            Self::Post => "post",
            Self::Comment => "comment",
            Self::ModAction => "mod_action",
        }
    }

    pub fn from_db_name(name: &str) -> Option<Self> {
        [Self::Post, Self::Comment, Self::ModAction]
            .into_iter()
            .find(|k| k.as_db_name() == name)
    }
}

/// The write a notification comes from: a post or comment version, or a moderation action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Source {
    pub kind: SourceKind,
    pub id: i64,
    pub version: i32,
}

impl Source {
    pub fn post(id: i64, version: i32) -> Self {
        Self {
            kind: SourceKind::Post,
            id,
            version,
        }
    }

    pub fn comment(id: i64, version: i32) -> Self {
        Self {
            kind: SourceKind::Comment,
            id,
            version,
        }
    }

    pub fn mod_action(id: i64) -> Self {
        Self {
            kind: SourceKind::ModAction,
            id,
            version: 0,
        }
    }
}

/// How far a write's fan-out got: its direct part (the members it names: mentions, the author it answers,
/// moderation) goes first, the watchers after — every waiting write's direct part before any watchers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Direct,
    Watchers,
}

impl Stage {
    /// `notification_outbox.stage`.
    pub fn to_db(self) -> i16 {
        match self {
            Self::Direct => 0,
            Self::Watchers => 1,
        }
    }
}

/// A write waiting for its fan-out (`notification_outbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    pub source: Source,
    pub stage: Stage,
    pub actor: Option<UserId>,
    /// Fan-outs of this entry that began before (and did not finish).
    pub attempts: i32,
    /// The span of the write it comes from, while traces were exported then.
    pub cause: Option<super::events::TraceParent>,
}

/// What a notification is about, beside its recipient and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct About {
    pub actor: Option<UserId>,
    pub post: Option<PostId>,
    pub comment: Option<CommentId>,
    pub category: Option<CategoryId>,
    pub report: Option<ReportId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: NotificationId,
    pub user: UserId,
    #[serde(with = "kind_name")]
    pub kind: NotificationKind,
    pub actor: Option<UserId>,
    pub post: Option<PostId>,
    pub comment: Option<CommentId>,
    pub category: Option<CategoryId>,
    pub report: Option<ReportId>,
    pub read: bool,
    pub created_at: DateTime<Utc>,
}

mod kind_name {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use super::NotificationKind;

    pub fn serialize<S: Serializer>(kind: &NotificationKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.as_db_name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NotificationKind, D::Error> {
        let name = String::deserialize(d)?;
        NotificationKind::from_db_name(&name).ok_or_else(|| D::Error::custom("unknown kind"))
    }
}

/// The members one write notifies, each once, with the highest-ranked kind that applies; never the
/// member who made the write.
#[derive(Debug, Default)]
pub struct Recipients {
    actor: Option<UserId>,
    kinds: std::collections::BTreeMap<UserId, NotificationKind>,
}

impl Recipients {
    pub fn excluding(actor: Option<UserId>) -> Self {
        Self {
            actor,
            kinds: Default::default(),
        }
    }

    pub fn add(&mut self, user: UserId, kind: NotificationKind) {
        if Some(user) == self.actor {
            return;
        }
        let entry = self.kinds.entry(user).or_insert(kind);
        if kind.rank() > entry.rank() {
            *entry = kind;
        }
    }

    pub fn users(&self) -> impl Iterator<Item = UserId> + '_ {
        self.kinds.keys().copied()
    }

    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// Keeps only the members `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(UserId) -> bool) {
        self.kinds.retain(|user, _| keep(*user));
    }

    /// Ordered by user id.
    pub fn into_vec(self) -> Vec<(UserId, NotificationKind)> {
        self.kinds.into_iter().collect()
    }
}

/// The names `now` mentions that `before` did not (case-insensitively), in order, at most
/// [`MENTION_LOOKUPS_MAX`]: an edit notifies only whom it added.
pub fn added_mentions(before: &[String], now: &[String]) -> Vec<String> {
    let old: std::collections::HashSet<String> = before.iter().map(|n| name_key(n)).collect();
    let mut seen = std::collections::HashSet::new();
    now.iter()
        .filter(|n| {
            let key = name_key(n);
            !old.contains(&key) && seen.insert(key)
        })
        .take(MENTION_LOOKUPS_MAX)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_notification_per_member_of_the_highest_kind_never_the_actor() {
        let mut recipients = Recipients::excluding(Some(UserId(1)));
        recipients.add(UserId(1), NotificationKind::Mention);
        recipients.add(UserId(2), NotificationKind::WatchedPostComment);
        recipients.add(UserId(2), NotificationKind::Reply);
        recipients.add(UserId(3), NotificationKind::Mention);
        recipients.add(UserId(3), NotificationKind::WatchedPostComment);
        assert_eq!(
            recipients.into_vec(),
            vec![
                (UserId(2), NotificationKind::Reply),
                (UserId(3), NotificationKind::Mention)
            ]
        );
    }

    #[test]
    fn an_edit_looks_up_only_the_mentions_it_added_and_a_bounded_number() {
        let before = vec!["kim".to_owned(), "철수".to_owned()];
        let now: Vec<String> = ["KIM", "철수", "lee", "Lee", "park"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(added_mentions(&before, &now), vec!["lee", "park"]);
        let many: Vec<String> = (0..200).map(|i| format!("user{i}")).collect();
        assert_eq!(added_mentions(&[], &many).len(), MENTION_LOOKUPS_MAX);
    }

    #[test]
    fn kinds_and_sources_round_trip_their_stored_names() {
        for kind in NotificationKind::ALL {
            assert_eq!(
                NotificationKind::from_db_name(kind.as_db_name()),
                Some(kind)
            );
        }
        for kind in [SourceKind::Post, SourceKind::Comment, SourceKind::ModAction] {
            assert_eq!(SourceKind::from_db_name(kind.as_db_name()), Some(kind));
        }
    }
}
