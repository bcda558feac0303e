-- Changes made outside the servers, for servers whose cache is in-process.
--
-- Additions to the ERD:
--   outside_change  one row per change made by the command line (`board set-role`): the user whose cached
--                   entry it made stale. A server with Redis never reads it (the command line deletes the
--                   entry in Redis itself); a server with the in-process cache, which no other process can
--                   reach, reads the rows added since its last look every second and forgets those users.

CREATE TABLE outside_change (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    created_datetime DATETIME(6) NOT NULL
) ENGINE=InnoDB;
