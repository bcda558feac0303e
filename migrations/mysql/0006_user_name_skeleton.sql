-- User names unique ignoring look-alikes: a Cyrillic `рау` beside a Latin `pay` is the same name.
--
-- Additions to the ERD:
--   user.name_skeleton       the name's UTS #39 skeleton, lower-cased (made by the application: see
--                            src/domain/names.rs); UNIQUE; NULL after resign, like name. SQL cannot compute it:
--                            the application fills it for existing users right after migrating, and a user whose
--                            name looks like an older user's keeps NULL and is logged (README, "Identity").
--                            150 characters: 30 characters of a name, at most 5 each in the skeleton.

ALTER TABLE `user`
    ADD COLUMN name_skeleton VARCHAR(150) NULL,
    ADD CONSTRAINT uk_user_name_skeleton UNIQUE (name_skeleton);
