-- As migrations/mysql/0006: user names unique ignoring look-alikes.
--
-- Additions to the ERD:
--   user.name_skeleton       the name's UTS #39 skeleton, lower-cased (made by the application); UNIQUE; NULL
--                            after resign, and for a user whose name looks like an older user's (logged).

ALTER TABLE user ADD COLUMN name_skeleton VARCHAR(150) NULL;
CREATE UNIQUE INDEX uk_user_name_skeleton ON user (name_skeleton);
