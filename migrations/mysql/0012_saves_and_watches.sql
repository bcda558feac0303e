-- Saved posts and watches (docs/watching.md).
--
-- Additions to the ERD:
--   saved_post       a member's saved post: one row per (user, post), its id orders the list newest saved
--                    first (keyset on (user_id, id)); unsaving deletes the row, saving again adds a new one
--   watch_post       a member's choice about one post: watching TRUE (set explicitly, or automatically when
--                    they wrote the post or commented on it) or FALSE (an explicit "stop watching", which a
--                    later comment does not undo); one row per (user, post)
--   watch_category   a member watching a category (new posts there); one row per (user, category), deleted on
--                    unwatch
--   indexes: saves by user in save order, and by post; watchers by post and by category (who to notify)

CREATE TABLE saved_post (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    post_id BIGINT NOT NULL,
    created_datetime DATETIME(6) NOT NULL,
    CONSTRAINT uk_saved_post UNIQUE (user_id, post_id),
    KEY ix_saved_post_user_order (user_id, id),
    KEY ix_saved_post_post (post_id),
    CONSTRAINT fk_saved_post_user FOREIGN KEY (user_id) REFERENCES `user` (id),
    CONSTRAINT fk_saved_post_post FOREIGN KEY (post_id) REFERENCES post (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE watch_post (
    user_id BIGINT NOT NULL,
    post_id BIGINT NOT NULL,
    watching BOOLEAN NOT NULL,
    created_datetime DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, post_id),
    KEY ix_watch_post_watchers (post_id, watching, user_id),
    CONSTRAINT fk_watch_post_user FOREIGN KEY (user_id) REFERENCES `user` (id),
    CONSTRAINT fk_watch_post_post FOREIGN KEY (post_id) REFERENCES post (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE watch_category (
    user_id BIGINT NOT NULL,
    category_id BIGINT NOT NULL,
    created_datetime DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, category_id),
    KEY ix_watch_category_watchers (category_id, user_id),
    CONSTRAINT fk_watch_category_user FOREIGN KEY (user_id) REFERENCES `user` (id),
    CONSTRAINT fk_watch_category_category FOREIGN KEY (category_id) REFERENCES category (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
