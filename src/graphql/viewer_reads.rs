//! What of an answer depends on who asks: the viewer's own fields (slots: a path in the answer and what the
//! value depends on besides the viewer), or anything else, which makes the answer the viewer's alone. The
//! response cache keeps an answer of the first kind once for every signed-in viewer:
//! docs/read-cache.md#one-answer-for-every-member.

use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::{Context, QueryPathSegment};

use crate::domain::board::{may_delete, may_edit};
use crate::domain::{CategoryId, CommentId, PostId, User, UserId};

/// A field of an answer whose value a kept template leaves to fill per request: one of the viewer's own
/// fields (resolved from the viewer's cache entries, `app/board/viewer.rs`, or from the viewer's rights
/// alone, so it can be computed again for another viewer), or a counter a vote moves (read again from the
/// entry of its post or comment, so a vote does not retire the answers showing it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// `Post.viewerHasVoted`.
    VotedPost(PostId),
    /// `Comment.viewerHasVoted`.
    VotedComment(CommentId),
    /// `Post.viewerHasSaved`.
    SavedPost(PostId),
    /// `Post.viewerIsWatching`.
    WatchingPost(PostId),
    /// `Category.viewerIsWatching`.
    WatchingCategory(CategoryId),
    /// `viewerCanEdit` of a post or comment by `author`.
    CanEdit { author: UserId, active: bool },
    /// `viewerCanDelete` of a post or comment by `author`.
    CanDelete { author: UserId, active: bool },
    /// `Post.voteCount`, the same for every viewer.
    PostVotes(PostId),
    /// `Comment.voteCount`, the same for every viewer.
    CommentVotes(CommentId),
}

/// A slot's value in an answer: `true`/`false`, or an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotValue {
    Bool(bool),
    Count(i64),
}

impl Slot {
    /// The value of a slot decided by the viewer's rights alone; `None` for one read from the viewer's
    /// cache entries.
    pub fn by_rights(self, viewer: &User) -> Option<bool> {
        match self {
            Slot::CanEdit { author, active } => Some(may_edit(viewer, author, active)),
            Slot::CanDelete { author, active } => Some(may_delete(viewer, author, active)),
            Slot::VotedPost(_)
            | Slot::VotedComment(_)
            | Slot::SavedPost(_)
            | Slot::WatchingPost(_)
            | Slot::WatchingCategory(_)
            | Slot::PostVotes(_)
            | Slot::CommentVotes(_) => None,
        }
    }

    /// Whether the slot holds an integer (a counter) rather than `true`/`false`.
    pub fn is_count(self) -> bool {
        matches!(self, Slot::PostVotes(_) | Slot::CommentVotes(_))
    }

    /// Whether the slot's value depends on who asks (an anonymous answer has none of these).
    pub fn is_viewers(self) -> bool {
        !self.is_count()
    }
}

/// One step of a path in an answer's `data`: a response key (an alias, or the field's name) or a list index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// Where a slot's value is in the answer's `data`, outermost step first.
pub type Path = Vec<Step>;

/// The path of the field `ctx` resolves.
pub fn path_of(ctx: &Context<'_>) -> Path {
    let Some(node) = ctx.path_node.as_ref() else {
        return Vec::new();
    };
    let mut path: Path = std::iter::once(node)
        .chain(node.parents())
        .map(|node| match node.segment {
            QueryPathSegment::Name(key) => Step::Key(key.to_owned()),
            QueryPathSegment::Index(index) => Step::Index(index),
        })
        .collect();
    path.reverse();
    path
}

/// More slots than this in one answer: kept for its viewer alone (a template is for pages, not dumps).
const MAX_SLOTS: usize = 1_000;

/// What one request's answer read of its viewer, recorded while it resolves.
#[derive(Debug, Default)]
struct ViewerReads {
    /// Something other than a slot depended on the viewer.
    own: AtomicBool,
    slots: Mutex<Vec<(Path, Slot)>>,
}

impl ViewerReads {
    /// Something of the answer depends on the viewer beyond its slots (their identity, role, rights).
    fn mark_own(&self) {
        self.own.store(true, Ordering::Relaxed);
    }

    /// The field at `path` is the slot `slot`.
    fn record(&self, path: Path, slot: Slot) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.len() >= MAX_SLOTS {
            self.mark_own();
            return;
        }
        slots.push((path, slot));
    }

    /// The answer's slots, if nothing else of it depended on the viewer; `None`: the answer is the
    /// viewer's alone.
    fn slots(&self) -> Option<Vec<(Path, Slot)>> {
        if self.own.load(Ordering::Relaxed) {
            return None;
        }
        Some(
            self.slots
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// The request's viewer (`None`: anonymous), read only through methods that record what was read, when
/// recording.
#[derive(Debug)]
pub struct Viewer {
    user: Option<User>,
    reads: Option<ViewerReads>,
}

impl Viewer {
    /// `recording`: keep track of what the answer takes from the viewer ([`Viewer::slots`]).
    pub fn new(user: Option<User>, recording: bool) -> Self {
        Self {
            user,
            reads: recording.then(ViewerReads::default),
        }
    }

    /// The viewer, for anything made of them: the answer becomes theirs alone.
    pub fn get(&self) -> Option<&User> {
        if let (Some(_), Some(reads)) = (&self.user, &self.reads) {
            reads.mark_own();
        }
        self.user.as_ref()
    }

    /// The viewer, for the field at `path` whose value `slot` decides.
    pub fn for_slot(&self, path: impl FnOnce() -> Path, slot: Slot) -> Option<&User> {
        if let (Some(_), Some(reads)) = (&self.user, &self.reads) {
            reads.record(path(), slot);
        }
        self.user.as_ref()
    }

    /// The field at `path` is `slot`, a counter the same for every viewer (anonymous included).
    pub fn count_slot(&self, path: impl FnOnce() -> Path, slot: Slot) {
        if let Some(reads) = &self.reads {
            reads.record(path(), slot);
        }
    }

    /// The slots of the answer if nothing else of it depended on the viewer; `None`: it is the viewer's
    /// own, or nothing was recorded.
    pub fn slots(&self) -> Option<Vec<(Path, Slot)>> {
        self.reads.as_ref()?.slots()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn user(id: i64, role: Role) -> User {
        User {
            id: UserId(id),
            name: Some(format!("user{id}")),
            email: None,
            role,
            states: vec![],
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn slots_are_kept_until_anything_else_reads_the_viewer() {
        let reads = ViewerReads::default();
        assert_eq!(
            reads.slots(),
            Some(vec![]),
            "nothing read: one answer for all"
        );
        let path = vec![Step::Key("post".into()), Step::Key("viewerHasVoted".into())];
        reads.record(path.clone(), Slot::VotedPost(PostId(4)));
        assert_eq!(
            reads.slots(),
            Some(vec![(path, Slot::VotedPost(PostId(4)))])
        );
        reads.mark_own();
        assert_eq!(reads.slots(), None, "the viewer's own answer");
    }

    #[test]
    fn every_read_of_the_viewer_is_recorded() {
        let path = || vec![Step::Key("viewerCanEdit".into())];
        let slot = Slot::CanEdit {
            author: UserId(1),
            active: true,
        };
        // Their own fields only: one answer for every member, with the slots to fill.
        let viewer = Viewer::new(Some(user(1, Role::User)), true);
        assert_eq!(viewer.for_slot(path, slot).map(|u| u.id), Some(UserId(1)));
        assert_eq!(viewer.slots(), Some(vec![(path(), slot)]));
        // Anything else read of them: theirs alone.
        assert_eq!(viewer.get().map(|u| u.id), Some(UserId(1)));
        assert_eq!(viewer.slots(), None);
        // Not recording (graphql-ws, anonymous requests, mutations): nothing to tell.
        let unrecorded = Viewer::new(Some(user(2, Role::Admin)), false);
        assert!(unrecorded.for_slot(path, slot).is_some());
        assert_eq!(unrecorded.slots(), None);
        // Anonymous: nothing of a viewer was read.
        let anonymous = Viewer::new(None, true);
        assert!(anonymous.get().is_none() && anonymous.for_slot(path, slot).is_none());
        assert_eq!(anonymous.slots(), Some(vec![]));
        // Counters are slots for everyone, anonymous included, and only when recording.
        let votes = Slot::PostVotes(PostId(3));
        anonymous.count_slot(path, votes);
        assert_eq!(anonymous.slots(), Some(vec![(path(), votes)]));
        unrecorded.count_slot(path, votes);
        assert_eq!(unrecorded.slots(), None);
    }

    #[test]
    fn too_many_slots_make_the_answer_the_viewers_own() {
        let reads = ViewerReads::default();
        for n in 0..=MAX_SLOTS {
            reads.record(vec![Step::Index(n)], Slot::VotedPost(PostId(1)));
        }
        assert_eq!(reads.slots(), None);
    }

    #[test]
    fn rights_slots_follow_the_viewer_reads_slots_do_not_decide() {
        let author = user(1, Role::User);
        let admin = user(2, Role::Admin);
        let other = user(3, Role::User);
        let edit = Slot::CanEdit {
            author: author.id,
            active: true,
        };
        let delete = Slot::CanDelete {
            author: author.id,
            active: true,
        };
        assert_eq!(edit.by_rights(&author), Some(true));
        assert_eq!(edit.by_rights(&admin), Some(false));
        assert_eq!(delete.by_rights(&admin), Some(true));
        assert_eq!(delete.by_rights(&other), Some(false));
        let gone = Slot::CanDelete {
            author: author.id,
            active: false,
        };
        assert_eq!(gone.by_rights(&author), Some(false));
        assert_eq!(Slot::VotedPost(PostId(1)).by_rights(&author), None);
    }
}
