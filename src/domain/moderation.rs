//! Moderation: who may moderate where, what a removal is, and the moderation log's entries.
//! The visibility rules are explained in docs/moderation.md.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::board::CategoryTree;
use super::errors::{AppError, AppResult};
use super::ids::{CategoryId, CommentId, ModActionId, PostId, UserId};
use super::user::User;
use super::validation;

/// Pinned posts one category holds at most.
pub const PINNED_MAX: i64 = 5;
/// Longest reason of a removal, a lock or any other logged action.
pub const REASON_MAX: usize = 500;

/// Whether `viewer` may moderate `category`: admins everywhere; a moderator in the categories they were
/// appointed to and every category below them. Cycle-safe (the walk up the tree visits each category once).
pub fn may_moderate(viewer: &User, category: CategoryId, tree: &CategoryTree) -> bool {
    if !viewer.may_act() {
        return false;
    }
    viewer.is_admin() || appointed_above(tree, category, viewer.id)
}

/// Whether `user` was appointed moderator of `category` or of a category above it.
pub fn appointed_above(tree: &CategoryTree, category: CategoryId, user: UserId) -> bool {
    tree.with_ancestors(category).into_iter().any(|c| {
        tree.get(c)
            .is_some_and(|found| found.moderators.contains(&user))
    })
}

/// A moderator's removal of a post or comment: who, why and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    pub reason: Option<String>,
    pub removed_at: DateTime<Utc>,
    pub removed_by: UserId,
}

/// Who may see a post or comment that is not plainly visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Visible,
    Hidden,
    /// Removed content the viewer did not write: visible to the moderators of the category.
    ModeratorsOf(CategoryId),
    /// As `ModeratorsOf`, for a comment: the category of this post.
    ModeratorsOfPost(PostId),
}

/// What a moderation log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModActionKind {
    Remove,
    Restore,
    Lock,
    Unlock,
    Pin,
    Unpin,
    Ban,
    Unban,
    CategoryBan,
    CategoryUnban,
    SetRole,
    SetModerator,
    CategoryChange,
    ResolveReport,
}

impl ModActionKind {
    /// Whether the member the action concerns is notified of it (the author of removed content, the
    /// reporters of a resolved report, a banned member).
    pub fn notifies(self) -> bool {
        matches!(
            self,
            Self::Remove | Self::ResolveReport | Self::Ban | Self::CategoryBan
        )
    }

    pub const ALL: [ModActionKind; 14] = [
        Self::Remove,
        Self::Restore,
        Self::Lock,
        Self::Unlock,
        Self::Pin,
        Self::Unpin,
        Self::Ban,
        Self::Unban,
        Self::CategoryBan,
        Self::CategoryUnban,
        Self::SetRole,
        Self::SetModerator,
        Self::CategoryChange,
        Self::ResolveReport,
    ];

    /// The `mod_action.kind` value (the GraphQL enum's name).
    pub fn as_db_name(self) -> &'static str {
        match self {
            Self::Remove => "REMOVE",
            Self::Restore => "RESTORE",
            Self::Lock => "LOCK",
            Self::Unlock => "UNLOCK",
            Self::Pin => "PIN",
            Self::Unpin => "UNPIN",
            Self::Ban => "BAN",
            Self::Unban => "UNBAN",
            Self::CategoryBan => "CATEGORY_BAN",
            Self::CategoryUnban => "CATEGORY_UNBAN",
            Self::SetRole => "SET_ROLE",
            Self::SetModerator => "SET_MODERATOR",
            Self::CategoryChange => "CATEGORY_CHANGE",
            Self::ResolveReport => "RESOLVE_REPORT",
        }
    }

    pub fn from_db_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_db_name() == name)
    }
}

/// What a log entry acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModTarget {
    Post(PostId),
    Comment(CommentId),
    User(UserId),
    Category(CategoryId),
}

impl ModTarget {
    /// (`mod_action.target_kind`, `mod_action.target_id`).
    pub fn to_db(self) -> (&'static str, i64) {
        match self {
            Self::Post(id) => (PostId::KIND, id.0),
            Self::Comment(id) => (CommentId::KIND, id.0),
            Self::User(id) => (UserId::KIND, id.0),
            Self::Category(id) => (CategoryId::KIND, id.0),
        }
    }

    pub fn from_db(kind: &str, id: i64) -> Option<Self> {
        match kind {
            PostId::KIND => Some(Self::Post(PostId(id))),
            CommentId::KIND => Some(Self::Comment(CommentId(id))),
            UserId::KIND => Some(Self::User(UserId(id))),
            CategoryId::KIND => Some(Self::Category(CategoryId(id))),
            _ => None,
        }
    }
}

/// A log entry to write, in the transaction of the action it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewModAction {
    pub kind: ModActionKind,
    pub moderator: UserId,
    pub target: Option<ModTarget>,
    /// The category the action concerns (a post's or comment's category, a category itself); `None` for
    /// board-wide actions (roles, blocks).
    pub category: Option<CategoryId>,
    pub reason: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl NewModAction {
    pub fn new(
        kind: ModActionKind,
        moderator: UserId,
        target: ModTarget,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            kind,
            moderator,
            target: Some(target),
            category: None,
            reason: None,
            expires_at: None,
            created_at: at,
        }
    }

    pub fn in_category(mut self, category: CategoryId) -> Self {
        self.category = Some(category);
        self
    }

    pub fn because(mut self, reason: Option<String>) -> Self {
        self.reason = reason;
        self
    }
}

/// A log entry as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModAction {
    pub id: ModActionId,
    pub kind: ModActionKind,
    pub moderator: UserId,
    pub target: Option<ModTarget>,
    pub category: Option<CategoryId>,
    pub reason: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A required reason (a removal's): 1–500 characters after trimming.
pub fn required_reason(field: &str, raw: &str) -> AppResult<String> {
    let reason = validation::text(field, raw, 1, REASON_MAX, true)?;
    if reason.is_empty() {
        return Err(AppError::invalid(field, "must not be blank"));
    }
    Ok(reason)
}

/// An optional reason: at most 500 characters; blank is none.
pub fn optional_reason(field: &str, raw: Option<&str>) -> AppResult<Option<String>> {
    Ok(raw
        .map(|r| validation::text(field, r, 0, REASON_MAX, true))
        .transpose()?
        .filter(|r| !r.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::board::Category;
    use crate::domain::user::{Role, UserState, UserStateKind};

    fn tree(moderators_of_2: Vec<UserId>) -> CategoryTree {
        let c = |id, tier, parent: Option<i64>, moderators: Vec<UserId>| Category {
            id: CategoryId(id),
            name: format!("c{id}"),
            tier,
            parent_id: parent.map(CategoryId),
            moderators,
        };
        CategoryTree {
            categories: vec![
                c(1, 1, None, vec![]),
                c(2, 2, Some(1), moderators_of_2),
                c(3, 3, Some(2), vec![]),
                c(4, 2, Some(1), vec![]),
            ],
        }
    }

    fn user(id: i64, role: Role) -> User {
        User {
            id: UserId(id),
            name: Some(format!("u{id}")),
            email: None,
            role,
            states: Vec::new(),
            created_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn rights_cover_the_category_and_its_descendants_only() {
        let t = tree(vec![UserId(7)]);
        let moderator = user(7, Role::User);
        assert!(may_moderate(&moderator, CategoryId(2), &t));
        assert!(may_moderate(&moderator, CategoryId(3), &t), "a child");
        assert!(!may_moderate(&moderator, CategoryId(1), &t), "the parent");
        assert!(!may_moderate(&moderator, CategoryId(4), &t), "a sibling");
        assert!(!may_moderate(&user(8, Role::User), CategoryId(3), &t));
        assert!(may_moderate(&user(9, Role::Admin), CategoryId(4), &t));
    }

    #[test]
    fn a_blocked_moderator_moderates_nothing_and_cycles_end() {
        let mut t = tree(vec![UserId(7)]);
        let mut blocked = user(7, Role::User);
        blocked.states.push(UserState {
            kind: UserStateKind::Blocked,
            detail: None,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            until: None,
        });
        assert!(!may_moderate(&blocked, CategoryId(2), &t));
        // 1 → 3 → 2 → 1: still answers.
        t.categories[0].parent_id = Some(CategoryId(3));
        assert!(may_moderate(&user(7, Role::User), CategoryId(1), &t));
        assert!(!may_moderate(&user(8, Role::User), CategoryId(1), &t));
    }

    fn post(is_active: bool, removed: bool) -> crate::domain::board::Post {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        crate::domain::board::Post {
            id: PostId(1),
            author_id: UserId(5),
            category_id: CategoryId(3),
            created_at: at,
            is_active,
            title: "t".into(),
            content: "c".into(),
            content_html: "<p>c</p>".into(),
            version: 0,
            updated_at: at,
            vote_count: 0,
            comment_count: 0,
            top_comment_count: 0,
            removal: removed.then_some(Removal {
                reason: None,
                removed_at: at,
                removed_by: UserId(7),
            }),
            locked: false,
            lock_reason: None,
            pinned_at: None,
        }
    }

    #[test]
    fn removed_content_is_for_its_author_moderators_and_admins_deleted_for_admins() {
        let (author, other, admin) = (
            user(5, Role::User),
            user(8, Role::User),
            user(9, Role::Admin),
        );
        let live = post(true, false);
        assert_eq!(live.access(None), Access::Visible);
        let deleted = post(false, false);
        assert_eq!(deleted.access(Some(&author)), Access::Hidden);
        assert_eq!(deleted.access(Some(&other)), Access::Hidden);
        assert_eq!(deleted.access(Some(&admin)), Access::Visible);
        let removed = post(false, true);
        assert_eq!(removed.access(None), Access::Hidden);
        assert_eq!(removed.access(Some(&author)), Access::Visible);
        assert_eq!(removed.access(Some(&admin)), Access::Visible);
        // Anyone else: only if they moderate the post's category.
        assert_eq!(
            removed.access(Some(&other)),
            Access::ModeratorsOf(CategoryId(3))
        );
    }

    #[test]
    fn kinds_and_targets_round_trip() {
        for kind in ModActionKind::ALL {
            assert_eq!(ModActionKind::from_db_name(kind.as_db_name()), Some(kind));
        }
        let target = ModTarget::Comment(CommentId(5));
        let (kind, id) = target.to_db();
        assert_eq!(ModTarget::from_db(kind, id), Some(target));
        assert_eq!(ModTarget::from_db("Nope", 1), None);
    }

    #[test]
    fn reasons() {
        assert!(required_reason("reason", "  ").is_err());
        assert_eq!(
            required_reason("reason", " 스팸 spam ").unwrap(),
            "스팸 spam"
        );
        assert!(required_reason("reason", &"x".repeat(501)).is_err());
        assert_eq!(optional_reason("reason", Some("  ")).unwrap(), None);
        assert_eq!(optional_reason("reason", None).unwrap(), None);
    }
}
