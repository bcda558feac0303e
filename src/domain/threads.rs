//! Where a reply goes in its thread. docs/threads.md.

use super::errors::{AppError, AppResult};
use super::ids::{CommentId, PostId};

/// The deepest a comment sits: top-level comments have depth 0, a reply its parent's depth + 1.
pub const MAX_DEPTH: i32 = 8;

/// What a reply needs to know of the comment it answers (as read inside the reply's transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyTarget {
    pub id: CommentId,
    pub post_id: PostId,
    pub parent_id: Option<CommentId>,
    pub depth: i32,
    /// Neither deleted nor removed.
    pub is_active: bool,
}

/// Where a new comment goes: under `parent` (none: top level), at `depth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub parent: Option<CommentId>,
    pub depth: i32,
}

impl Placement {
    pub const TOP_LEVEL: Self = Self {
        parent: None,
        depth: 0,
    };

    /// Whether the comment it answers must be live when the reply commits: only when the reply hangs
    /// under that very comment (a clamped reply hangs under its parent, whatever that one's state).
    pub fn answers(&self, target: &ReplyTarget) -> bool {
        self.parent == Some(target.id)
    }
}

/// The place of a reply to `target` on `post`. `BAD_USER_INPUT` on `parentId` when the target is missing
/// (`None`), of another post, deleted or removed. A reply to a comment at [`MAX_DEPTH`] goes beside it:
/// under that comment's parent, at [`MAX_DEPTH`] again (Reddit's "continue this thread").
pub fn place_reply(post: PostId, target: Option<&ReplyTarget>) -> AppResult<Placement> {
    let target = target.ok_or_else(|| AppError::invalid("parentId", "no such comment"))?;
    if target.post_id != post {
        return Err(AppError::invalid(
            "parentId",
            "is a comment of another post",
        ));
    }
    if !target.is_active {
        return Err(AppError::invalid(
            "parentId",
            "the comment was deleted or removed",
        ));
    }
    if target.depth >= MAX_DEPTH {
        // A depth-8 comment always has a parent; a row that says otherwise is answered at the top level
        // of its thread rather than refused.
        return Ok(Placement {
            parent: target.parent_id,
            depth: if target.parent_id.is_some() {
                MAX_DEPTH
            } else {
                0
            },
        });
    }
    Ok(Placement {
        parent: Some(target.id),
        depth: target.depth.max(0) + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(id: i64, parent: Option<i64>, depth: i32) -> ReplyTarget {
        ReplyTarget {
            id: CommentId(id),
            post_id: PostId(1),
            parent_id: parent.map(CommentId),
            depth,
            is_active: true,
        }
    }

    #[test]
    fn replies_go_one_level_down_until_the_deepest_level() {
        let top = target(10, None, 0);
        let placed = place_reply(PostId(1), Some(&top)).unwrap();
        assert_eq!(
            placed,
            Placement {
                parent: Some(CommentId(10)),
                depth: 1
            }
        );
        assert!(placed.answers(&top));
        let seventh = target(17, Some(16), MAX_DEPTH - 1);
        assert_eq!(
            place_reply(PostId(1), Some(&seventh)).unwrap(),
            Placement {
                parent: Some(CommentId(17)),
                depth: MAX_DEPTH
            }
        );
    }

    #[test]
    fn a_reply_to_the_deepest_level_goes_beside_it() {
        let deepest = target(18, Some(17), MAX_DEPTH);
        let placed = place_reply(PostId(1), Some(&deepest)).unwrap();
        assert_eq!(
            placed,
            Placement {
                parent: Some(CommentId(17)),
                depth: MAX_DEPTH
            }
        );
        assert!(!placed.answers(&deepest));
    }

    #[test]
    fn missing_foreign_and_dead_targets_name_parent_id() {
        let field = |r: AppResult<Placement>| match r {
            Err(AppError::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(place_reply(PostId(1), None)), "parentId");
        assert_eq!(
            field(place_reply(PostId(2), Some(&target(3, None, 0)))),
            "parentId"
        );
        let dead = ReplyTarget {
            is_active: false,
            ..target(3, None, 0)
        };
        assert_eq!(field(place_reply(PostId(1), Some(&dead))), "parentId");
    }
}
