-- Moderation: moderators per category, removal distinct from the author's delete, locks, pins and the
-- public moderation log (docs/moderation.md).
--
-- Additions to the ERD:
--   category_moderator        who moderates a category (and, by the application's rule, its descendants)
--   post.removed_datetime, post.removal_reason, post.removed_by
--                             a moderator's removal (when, why, who); while removed, is_active is FALSE too,
--                             so lists, search and the counters treat the row exactly as a deleted one; these
--                             columns tell it apart from the author's delete
--   comment.removed_datetime, comment.removal_reason, comment.removed_by   the same for comments
--   post.locked, post.lock_reason   a locked post takes no new comments
--   post.pinned_datetime      set while pinned (pinned posts are listed newest pin first)
--   category.pinned_count     pinned posts of the category, reserved in the pin's transaction (at most 5)
--   mod_action                the moderation log: one row per action, written in the action's transaction;
--                             target and category are kept without foreign keys (the log outlives them)

CREATE TABLE category_moderator (
    category_id BIGINT NOT NULL REFERENCES category (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES user (id),
    created_datetime DATETIME NOT NULL,
    PRIMARY KEY (category_id, user_id)
);
CREATE INDEX ix_category_moderator_user ON category_moderator (user_id);

ALTER TABLE post ADD COLUMN removed_datetime DATETIME NULL;
ALTER TABLE post ADD COLUMN removal_reason TEXT NULL;
ALTER TABLE post ADD COLUMN removed_by BIGINT NULL;
ALTER TABLE post ADD COLUMN locked BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE post ADD COLUMN lock_reason TEXT NULL;
ALTER TABLE post ADD COLUMN pinned_datetime DATETIME NULL;
CREATE INDEX ix_post_pinned ON post (category_id, pinned_datetime);

ALTER TABLE comment ADD COLUMN removed_datetime DATETIME NULL;
ALTER TABLE comment ADD COLUMN removal_reason TEXT NULL;
ALTER TABLE comment ADD COLUMN removed_by BIGINT NULL;

ALTER TABLE category ADD COLUMN pinned_count INT NOT NULL DEFAULT 0;

CREATE TABLE mod_action (
    id INTEGER PRIMARY KEY,
    kind VARCHAR(32) NOT NULL,
    reason TEXT NULL,
    created_datetime DATETIME NOT NULL,
    expires_datetime DATETIME NULL,
    target_kind VARCHAR(16) NULL,
    target_id BIGINT NULL,
    category_id BIGINT NULL,
    moderator_id BIGINT NOT NULL REFERENCES user (id)
);
CREATE INDEX ix_mod_action_category ON mod_action (category_id, id);
CREATE INDEX ix_mod_action_target ON mod_action (target_kind, target_id);
