//! Typed ids, so a user id can never be passed where a post id is expected.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($name:ident, $kind:literal) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The type name used in global ids (`User:42`) and cache keys.
            pub const KIND: &'static str = $kind;
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(UserId, "User");
id_type!(CategoryId, "Category");
id_type!(PostId, "Post");
id_type!(CommentId, "Comment");
id_type!(ModActionId, "ModAction");
id_type!(ReportId, "Report");
id_type!(NotificationId, "Notification");
