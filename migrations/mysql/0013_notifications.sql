-- The notification inbox and its outbox (docs/notifications.md).
--
-- Additions to the ERD:
--   notification_outbox  one row per write that may notify someone (a post or comment version, a moderation
--                        action), inserted in that write's transaction; the fan-out claims it after commit
--                        (claimed_until: a lease, so a crashed process's claim expires), writes the
--                        notifications, then deletes it. A row is never lost: an unfinished one is claimed
--                        again by any process's sweep.
--   notification         one member's notification: kind, who caused it (actor), what it is about (post,
--                        comment, category, report), read or not. `source_*` name the write it comes from;
--                        unique per (user, source): running a fan-out twice notifies nobody twice, and one
--                        write gives a member one notification (the most specific kind).
--   indexes: the inbox newest first (user, id) and its unread part (user, is_read, id) for the keyset pages
--            and the unread count; (source…, user) for the subscription's read of one fan-out chunk;
--            read_datetime for expiring old read notifications.

CREATE TABLE notification_outbox (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    source_kind VARCHAR(16) NOT NULL,
    source_id BIGINT NOT NULL,
    source_version INT NOT NULL,
    actor_id BIGINT NULL,
    created_datetime DATETIME(6) NOT NULL,
    claimed_until DATETIME(6) NULL,
    attempts INT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE notification (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    kind VARCHAR(32) NOT NULL,
    actor_id BIGINT NULL,
    post_id BIGINT NULL,
    comment_id BIGINT NULL,
    category_id BIGINT NULL,
    report_id BIGINT NULL,
    source_kind VARCHAR(16) NOT NULL,
    source_id BIGINT NOT NULL,
    source_version INT NOT NULL,
    is_read BOOLEAN NOT NULL DEFAULT FALSE,
    created_datetime DATETIME(6) NOT NULL,
    read_datetime DATETIME(6) NULL,
    CONSTRAINT uk_notification_source UNIQUE (source_kind, source_id, source_version, user_id),
    KEY ix_notification_inbox (user_id, id),
    KEY ix_notification_unread (user_id, is_read, id),
    KEY ix_notification_read_at (read_datetime),
    CONSTRAINT fk_notification_user FOREIGN KEY (user_id) REFERENCES `user` (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
