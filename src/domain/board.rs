//! Categories, posts, comments and their versions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::errors::{AppError, AppResult};
use super::ids::{CategoryId, CommentId, PostId, UserId};
use super::moderation::{Access, Removal};
use super::user::User;
use super::validation;

pub const CATEGORY_NAME_MAX: usize = 50;
pub const TITLE_MAX: usize = 200;
pub const POST_CONTENT_MAX: usize = 40_000;
pub const COMMENT_CONTENT_MAX: usize = 10_000;
pub const SEARCH_MAX: usize = 100;
/// Root categories, and the categories directly below one, at most: `Query.categories` and
/// `Category.children` hold no more, which is the size their cost counts (docs/cost.md).
pub const CATEGORY_CHILDREN_MAX: usize = 20;
/// Moderators appointed to one category at most (`Category.moderators`, priced at that size).
pub const CATEGORY_MODERATORS_MAX: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub id: CategoryId,
    pub name: String,
    /// 1 for roots, the parent's tier + 1 below.
    pub tier: i32,
    pub parent_id: Option<CategoryId>,
    /// Its moderators (their rights also cover every category below it).
    #[serde(default)]
    pub moderators: Vec<UserId>,
}

/// The whole category tree (it is small, read often and cached as one value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryTree {
    pub categories: Vec<Category>,
}

impl CategoryTree {
    pub fn get(&self, id: CategoryId) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    pub fn roots(&self) -> Vec<&Category> {
        self.categories
            .iter()
            .filter(|c| c.parent_id.is_none())
            .collect()
    }

    pub fn children(&self, id: CategoryId) -> Vec<&Category> {
        self.categories
            .iter()
            .filter(|c| c.parent_id == Some(id))
            .collect()
    }

    /// `id` and every category below it. Cycle-safe: each category is visited once, so a tree that a bug or
    /// a hand edit made cyclic still yields a finite list (at most every category).
    pub fn with_descendants(&self, id: CategoryId) -> Vec<CategoryId> {
        let mut found = vec![id];
        let mut seen = std::collections::HashSet::from([id]);
        let mut i = 0;
        while i < found.len() {
            let parent = found[i];
            for child in self.children(parent) {
                if seen.insert(child.id) {
                    found.push(child.id);
                }
            }
            i += 1;
        }
        found
    }

    /// `id` and every category above it, nearest first. Cycle-safe like [`Self::with_descendants`].
    pub fn with_ancestors(&self, id: CategoryId) -> Vec<CategoryId> {
        let mut found = vec![id];
        let mut next = self.get(id).and_then(|c| c.parent_id);
        while let Some(parent) = next {
            if found.contains(&parent) {
                break;
            }
            found.push(parent);
            next = self.get(parent).and_then(|c| c.parent_id);
        }
        found
    }

    /// Whether `candidate` is `id` or lies below it (a move there would make a cycle).
    pub fn is_within(&self, candidate: CategoryId, id: CategoryId) -> bool {
        self.with_descendants(id).contains(&candidate)
    }

    /// Checks a new category against the tree and answers its tier.
    pub fn plan_create(&self, name: &str, parent: Option<CategoryId>) -> AppResult<i32> {
        let tier = self.tier_under(parent)?;
        self.room_under(parent)?;
        if self.sibling_named(parent, name, None) {
            return Err(AppError::conflict(
                "name",
                "a sibling category already has this name",
            ));
        }
        Ok(tier)
    }

    /// Checks a rename and/or move of `id` against the tree (`parent: Some(None)` makes it a root) and
    /// answers the new tiers of the moved category and everything below it. Callers run this on a tree read
    /// under the lock that serialises category writes, in the transaction that applies the change.
    pub fn plan_update(
        &self,
        id: CategoryId,
        name: Option<&str>,
        parent: Option<Option<CategoryId>>,
    ) -> AppResult<Vec<(CategoryId, i32)>> {
        let current = self
            .get(id)
            .ok_or_else(|| AppError::NotFound("no such category".into()))?;
        let new_parent = parent.unwrap_or(current.parent_id);
        if let Some(p) = new_parent
            && self.is_within(p, id)
        {
            return Err(AppError::invalid(
                "parentId",
                "a category cannot move below itself",
            ));
        }
        if new_parent != current.parent_id {
            self.room_under(new_parent)?;
        }
        let new_name = name.unwrap_or(&current.name);
        if self.sibling_named(new_parent, new_name, Some(id)) {
            return Err(AppError::conflict(
                "name",
                "a sibling category already has this name",
            ));
        }
        let mut tiers = Vec::new();
        if parent.is_some() {
            let shift = self.tier_under(new_parent)? - current.tier;
            if shift != 0 {
                for below in self.with_descendants(id) {
                    if let Some(c) = self.get(below) {
                        tiers.push((below, c.tier + shift));
                    }
                }
            }
        }
        Ok(tiers)
    }

    /// Refuses one more category under `parent` (the top level for `None`) once it holds
    /// [`CATEGORY_CHILDREN_MAX`].
    fn room_under(&self, parent: Option<CategoryId>) -> AppResult<()> {
        let held = self
            .categories
            .iter()
            .filter(|c| c.parent_id == parent)
            .count();
        if held >= CATEGORY_CHILDREN_MAX {
            return Err(AppError::conflict(
                "parentId",
                format!(
                    "a category holds at most {CATEGORY_CHILDREN_MAX} categories directly below it, and the top level at most {CATEGORY_CHILDREN_MAX}"
                ),
            ));
        }
        Ok(())
    }

    /// The tier a category gets under `parent`.
    pub fn tier_under(&self, parent: Option<CategoryId>) -> AppResult<i32> {
        match parent {
            None => Ok(1),
            Some(p) => self
                .get(p)
                .map(|c| c.tier + 1)
                .ok_or_else(|| AppError::invalid("parentId", "no such category")),
        }
    }

    /// Whether a sibling under `parent` other than `except` already has `name`.
    pub fn sibling_named(
        &self,
        parent: Option<CategoryId>,
        name: &str,
        except: Option<CategoryId>,
    ) -> bool {
        self.categories
            .iter()
            .any(|c| c.parent_id == parent && c.name == name && Some(c.id) != except)
    }
}

/// A post as readers see it: the row plus its current version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    pub id: PostId,
    pub author_id: UserId,
    pub category_id: CategoryId,
    pub created_at: DateTime<Utc>,
    pub is_active: bool,
    pub title: String,
    pub content: String,
    /// `content` rendered (see `markdown::render`), stored with the version. No serde default: a cached
    /// post of the layout before it does not decode, so it is read again from the database.
    pub content_html: String,
    pub version: i32,
    /// When the current version was written.
    pub updated_at: DateTime<Utc>,
    pub vote_count: i64,
    pub comment_count: i64,
    /// Live top-level comments (`comment_count` counts replies too). No serde default, as `content_html`.
    pub top_comment_count: i64,
    /// Set while a moderator has removed it (`is_active` is then false too).
    #[serde(default)]
    pub removal: Option<Removal>,
    /// A locked post takes no new comments.
    #[serde(default)]
    pub locked: bool,
    #[serde(default)]
    pub lock_reason: Option<String>,
    /// Set while pinned to its category.
    #[serde(default)]
    pub pinned_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub id: CommentId,
    pub post_id: PostId,
    pub author_id: UserId,
    pub created_at: DateTime<Utc>,
    pub is_active: bool,
    pub content: String,
    pub content_html: String,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
    pub vote_count: i64,
    /// Set while a moderator has removed it (`is_active` is then false too).
    #[serde(default)]
    pub removal: Option<Removal>,
    /// The comment it replies to; none at the top level (docs/threads.md).
    pub parent_id: Option<CommentId>,
    /// 0 at the top level, at most [`super::threads::MAX_DEPTH`]. No serde default: a cached comment of the
    /// layout before threads does not decode, so it is read again from the database.
    pub depth: i32,
    /// Live direct replies.
    pub reply_count: i64,
}

/// One version of a post (`title` set) or a comment (`title` none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    pub version: i32,
    pub title: Option<String>,
    pub content: String,
    pub content_html: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PostOrder {
    #[default]
    Newest,
    Oldest,
    MostVoted,
}

/// Where a post sits in a list: its id, and its vote count for `MostVoted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PostKey {
    pub id: PostId,
    pub votes: i64,
}

/// Which posts a list shows. Deleted posts never appear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostFilter {
    /// A category and all its descendants.
    pub category_ids: Option<Vec<CategoryId>>,
    pub author_id: Option<UserId>,
    /// Substring of the current title or content; matched literally (no wildcards).
    pub search: Option<String>,
}

impl Post {
    /// Deleted posts are shown to admins only; removed ones to admins, their author and the moderators of
    /// their category (docs/moderation.md).
    pub fn access(&self, viewer: Option<&User>) -> Access {
        hidden_access(
            self.is_active,
            self.removal.is_some(),
            self.author_id,
            viewer,
            Access::ModeratorsOf(self.category_id),
        )
    }
}

impl Comment {
    /// As [`Post::access`]; the category is the comment's post's.
    pub fn access(&self, viewer: Option<&User>) -> Access {
        hidden_access(
            self.is_active,
            self.removal.is_some(),
            self.author_id,
            viewer,
            Access::ModeratorsOfPost(self.post_id),
        )
    }
}

fn hidden_access(
    is_active: bool,
    removed: bool,
    author: UserId,
    viewer: Option<&User>,
    moderators: Access,
) -> Access {
    if is_active || viewer.is_some_and(User::is_admin) {
        return Access::Visible;
    }
    match viewer {
        Some(v) if removed && v.id == author => Access::Visible,
        Some(v) if removed && v.may_act() => moderators,
        _ => Access::Hidden,
    }
}

/// Who may do what to a post or comment.
pub fn may_edit(actor: &User, author: UserId, is_active: bool) -> bool {
    is_active && actor.id == author && actor.may_act()
}

pub fn may_delete(actor: &User, author: UserId, is_active: bool) -> bool {
    is_active && actor.may_act() && (actor.id == author || actor.is_admin())
}

pub fn category_name(raw: &str) -> AppResult<String> {
    validation::text("name", raw, 1, CATEGORY_NAME_MAX, true)
}

pub fn post_title(raw: &str) -> AppResult<String> {
    validation::text("title", raw, 1, TITLE_MAX, true)
}

pub fn post_content(raw: &str) -> AppResult<String> {
    non_blank(
        "content",
        validation::text("content", raw, 1, POST_CONTENT_MAX, false)?,
    )
}

pub fn comment_content(raw: &str) -> AppResult<String> {
    non_blank(
        "content",
        validation::text("content", raw, 1, COMMENT_CONTENT_MAX, false)?,
    )
}

fn non_blank(field: &str, value: String) -> AppResult<String> {
    if value.trim().is_empty() {
        Err(AppError::invalid(field, "must not be blank"))
    } else {
        Ok(value)
    }
}

/// A search term: 1–100 characters after trimming.
pub fn search_term(raw: &str) -> AppResult<String> {
    validation::text("search", raw, 1, SEARCH_MAX, true)
}

#[cfg(test)]
mod tests;
