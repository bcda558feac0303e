-- Changes made outside the servers, for servers whose cache is in-process (see the MariaDB migration 0016).
--
-- Additions to the ERD:
--   outside_change  one row per change made by the command line (`board set-role`): the user whose cached
--                   entry it made stale

CREATE TABLE outside_change (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL,
    created_datetime DATETIME NOT NULL
);
