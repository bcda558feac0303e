-- Expiring blocks, category bans and content reports (see the MariaDB migration 0009).
--
-- Additions to the ERD:
--   user_state.until_datetime   when a state ends by itself (a block with an end); NULL: until removed
--   user.ban_version            bumped by every category ban of the user (see below)
--   category_ban                a user banned from writing in a category and its descendants, until a time
--                               or until lifted; one row per (category, user)
--   report                      a member's report of a post or comment; open_marker is 1 while the report is
--                               OPEN and NULL after, so the UNIQUE key allows one open report per reporter
--                               and subject and any number of closed ones

ALTER TABLE user_state ADD COLUMN until_datetime DATETIME NULL;

CREATE TABLE category_ban (
    id INTEGER PRIMARY KEY,
    category_id BIGINT NOT NULL REFERENCES category (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES user (id),
    reason VARCHAR(500) NULL,
    until_datetime DATETIME NULL,
    created_datetime DATETIME NOT NULL,
    banned_by BIGINT NULL REFERENCES user (id),
    UNIQUE (category_id, user_id)
);
CREATE INDEX ix_category_ban_user ON category_ban (user_id, category_id);

CREATE TABLE report (
    id INTEGER PRIMARY KEY,
    reporter_id BIGINT NOT NULL REFERENCES user (id),
    subject_kind VARCHAR(16) NOT NULL,
    subject_id BIGINT NOT NULL,
    category_id BIGINT NOT NULL REFERENCES category (id) ON DELETE CASCADE,
    reason VARCHAR(16) NOT NULL,
    note VARCHAR(1000) NULL,
    status VARCHAR(16) NOT NULL,
    open_marker SMALLINT NULL,
    created_datetime DATETIME NOT NULL,
    resolved_datetime DATETIME NULL,
    resolved_by BIGINT NULL REFERENCES user (id),
    resolution VARCHAR(16) NULL,
    UNIQUE (reporter_id, subject_kind, subject_id, open_marker)
);
CREATE INDEX ix_report_queue ON report (status, category_id, id);
CREATE INDEX ix_report_subject ON report (subject_kind, subject_id, status);

-- user.ban_version: bumped first in every category ban's transaction. Post and comment creation update the
-- author's row too (their counters) before checking for a ban, so the two serialise on that row.
ALTER TABLE user ADD COLUMN ban_version BIGINT NOT NULL DEFAULT 0;
