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
    category_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    created_datetime DATETIME(6) NOT NULL,
    PRIMARY KEY (category_id, user_id),
    KEY ix_category_moderator_user (user_id),
    CONSTRAINT fk_category_moderator_category FOREIGN KEY (category_id) REFERENCES category (id) ON DELETE CASCADE,
    CONSTRAINT fk_category_moderator_user FOREIGN KEY (user_id) REFERENCES `user` (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE post
    ADD COLUMN removed_datetime DATETIME(6) NULL,
    ADD COLUMN removal_reason VARCHAR(500) NULL,
    ADD COLUMN removed_by BIGINT NULL,
    ADD COLUMN locked BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN lock_reason VARCHAR(500) NULL,
    ADD COLUMN pinned_datetime DATETIME(6) NULL,
    ADD KEY ix_post_pinned (category_id, pinned_datetime);

ALTER TABLE comment
    ADD COLUMN removed_datetime DATETIME(6) NULL,
    ADD COLUMN removal_reason VARCHAR(500) NULL,
    ADD COLUMN removed_by BIGINT NULL;

ALTER TABLE category ADD COLUMN pinned_count INT NOT NULL DEFAULT 0;

CREATE TABLE mod_action (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind VARCHAR(32) NOT NULL,
    reason VARCHAR(500) NULL,
    created_datetime DATETIME(6) NOT NULL,
    expires_datetime DATETIME(6) NULL,
    target_kind VARCHAR(16) NULL,
    target_id BIGINT NULL,
    category_id BIGINT NULL,
    moderator_id BIGINT NOT NULL,
    KEY ix_mod_action_category (category_id, id),
    KEY ix_mod_action_target (target_kind, target_id),
    CONSTRAINT fk_mod_action_moderator FOREIGN KEY (moderator_id) REFERENCES `user` (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
