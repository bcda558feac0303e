-- Expiring blocks, category bans and content reports.
--
-- Additions to the ERD:
--   user_state.until_datetime   when a state ends by itself (a block with an end); NULL: until removed
--   user.ban_version            bumped by every category ban of the user (see below)
--   category_ban                a user banned from writing in a category and its descendants, until a time
--                               or until lifted; one row per (category, user)
--   report                      a member's report of a post or comment; open_marker is 1 while the report is
--                               OPEN and NULL after, so the UNIQUE key allows one open report per reporter
--                               and subject (two concurrent reports: one insert wins) and any number of
--                               closed ones
--   indexes: bans by user (the write check), the report queue by status and category, reports by subject

ALTER TABLE user_state ADD COLUMN until_datetime DATETIME(6) NULL;

CREATE TABLE category_ban (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    category_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    reason VARCHAR(500) NULL,
    until_datetime DATETIME(6) NULL,
    created_datetime DATETIME(6) NOT NULL,
    banned_by BIGINT NULL,
    CONSTRAINT uk_category_ban UNIQUE (category_id, user_id),
    KEY ix_category_ban_user (user_id, category_id),
    CONSTRAINT fk_category_ban_category FOREIGN KEY (category_id) REFERENCES category (id) ON DELETE CASCADE,
    CONSTRAINT fk_category_ban_user FOREIGN KEY (user_id) REFERENCES `user` (id),
    CONSTRAINT fk_category_ban_by FOREIGN KEY (banned_by) REFERENCES `user` (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE report (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    reporter_id BIGINT NOT NULL,
    subject_kind VARCHAR(16) NOT NULL,
    subject_id BIGINT NOT NULL,
    category_id BIGINT NOT NULL,
    reason VARCHAR(16) NOT NULL,
    note VARCHAR(1000) NULL,
    status VARCHAR(16) NOT NULL,
    open_marker SMALLINT NULL,
    created_datetime DATETIME(6) NOT NULL,
    resolved_datetime DATETIME(6) NULL,
    resolved_by BIGINT NULL,
    resolution VARCHAR(16) NULL,
    CONSTRAINT uk_report_open UNIQUE (reporter_id, subject_kind, subject_id, open_marker),
    KEY ix_report_queue (status, category_id, id),
    KEY ix_report_subject (subject_kind, subject_id, status),
    CONSTRAINT fk_report_reporter FOREIGN KEY (reporter_id) REFERENCES `user` (id),
    CONSTRAINT fk_report_category FOREIGN KEY (category_id) REFERENCES category (id) ON DELETE CASCADE,
    CONSTRAINT fk_report_resolved_by FOREIGN KEY (resolved_by) REFERENCES `user` (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- user.ban_version: bumped first in every category ban's transaction. Post and comment creation update the
-- author's row too (their counters) before checking for a ban, so the two serialise on that row: a lock on
-- one server, a certification conflict (retried) between Galera nodes.
ALTER TABLE `user` ADD COLUMN ban_version BIGINT NOT NULL DEFAULT 0;
