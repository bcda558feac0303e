-- Changes made outside the servers, for servers whose cache is in-process.
--
-- Additions to the ERD:
--   outside_change  one row per change made by the command line (`board set-role`): the user whose cached
--                   entry it made stale. Every running server reads the rows added since its last look
--                   every second and forgets those users: the command line cannot reach an in-process
--                   cache, and its own deletion in Redis may fail with nobody left to make it again.

CREATE TABLE outside_change (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    created_datetime DATETIME(6) NOT NULL
) ENGINE=InnoDB;
