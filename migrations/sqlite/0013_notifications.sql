-- The notification inbox and its outbox (see the MariaDB migration 0013 and docs/notifications.md).
--
-- Additions to the ERD:
--   notification_outbox  one row per write that may notify someone, inserted in that write's transaction,
--                        claimed (claimed_until: a lease), fanned out and deleted after commit
--   notification         one member's notification; unique per (source…, user)
--   indexes: the inbox (user, id), its unread part (user, is_read, id), the source chunk, read_datetime

CREATE TABLE notification_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_kind TEXT NOT NULL,
    source_id BIGINT NOT NULL,
    source_version INTEGER NOT NULL,
    actor_id BIGINT NULL,
    created_datetime DATETIME NOT NULL,
    claimed_until DATETIME NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE notification (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES user (id),
    kind TEXT NOT NULL,
    actor_id BIGINT NULL,
    post_id BIGINT NULL,
    comment_id BIGINT NULL,
    category_id BIGINT NULL,
    report_id BIGINT NULL,
    source_kind TEXT NOT NULL,
    source_id BIGINT NOT NULL,
    source_version INTEGER NOT NULL,
    is_read BOOLEAN NOT NULL DEFAULT FALSE,
    created_datetime DATETIME NOT NULL,
    read_datetime DATETIME NULL,
    UNIQUE (source_kind, source_id, source_version, user_id)
);
CREATE INDEX ix_notification_inbox ON notification (user_id, id);
CREATE INDEX ix_notification_unread ON notification (user_id, is_read, id);
CREATE INDEX ix_notification_read_at ON notification (read_datetime);
