-- Category roots unique by name in the database, and a user.name_key wide enough for any lower-case name.
--
-- Additions to the ERD:
--   category.root_name       generated: the name of a root (NULL below the roots); UNIQUE, so two roots cannot
--                            share a name even when created at the same moment (a NULL parent_id escapes the
--                            (parent_id, name) key). Roots that already share a name keep the oldest one's name;
--                            the others get " #<id>" appended.
--   user.name_key            widened from 30 to 60 characters: the lower case of a 30-character name can be
--                            longer than 30 characters ('İ' lower-cases to 'i' + U+0307).

UPDATE category c
JOIN (SELECT name, MIN(id) AS keep FROM category WHERE parent_id IS NULL GROUP BY name HAVING COUNT(*) > 1) d
  ON c.name = d.name AND c.parent_id IS NULL AND c.id <> d.keep
SET c.name = CONCAT(LEFT(c.name, 28), ' #', c.id);

ALTER TABLE category
    ADD COLUMN root_name VARCHAR(50) AS (IF(parent_id IS NULL, name, NULL)) PERSISTENT,
    ADD CONSTRAINT uk_category_root_name UNIQUE (root_name);

ALTER TABLE `user` MODIFY name_key VARCHAR(60) NULL;
