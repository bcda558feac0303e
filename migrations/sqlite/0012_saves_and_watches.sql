-- Saved posts and watches (see the MariaDB migration 0012 and docs/watching.md).
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
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES user (id),
    post_id BIGINT NOT NULL REFERENCES post (id) ON DELETE CASCADE,
    created_datetime DATETIME NOT NULL,
    UNIQUE (user_id, post_id)
);
CREATE INDEX ix_saved_post_user_order ON saved_post (user_id, id);
CREATE INDEX ix_saved_post_post ON saved_post (post_id);

CREATE TABLE watch_post (
    user_id BIGINT NOT NULL REFERENCES user (id),
    post_id BIGINT NOT NULL REFERENCES post (id) ON DELETE CASCADE,
    watching BOOLEAN NOT NULL,
    created_datetime DATETIME NOT NULL,
    PRIMARY KEY (user_id, post_id)
);
CREATE INDEX ix_watch_post_watchers ON watch_post (post_id, watching, user_id);

CREATE TABLE watch_category (
    user_id BIGINT NOT NULL REFERENCES user (id),
    category_id BIGINT NOT NULL REFERENCES category (id) ON DELETE CASCADE,
    created_datetime DATETIME NOT NULL,
    PRIMARY KEY (user_id, category_id)
);
CREATE INDEX ix_watch_category_watchers ON watch_category (category_id, user_id);
