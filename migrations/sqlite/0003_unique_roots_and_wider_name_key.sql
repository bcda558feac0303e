-- As migrations/mysql/0003: category roots unique by name in the database.
--
-- Additions to the ERD:
--   category.root_name       generated: the name of a root (NULL below the roots); UNIQUE. Roots that already
--                            share a name keep the oldest one's name; the others get " #<id>" appended.
--   (user.name_key needs no change here: SQLite does not enforce VARCHAR widths.)

UPDATE category SET name = substr(name, 1, 28) || ' #' || id
WHERE parent_id IS NULL
  AND id NOT IN (SELECT MIN(id) FROM category WHERE parent_id IS NULL GROUP BY name);

ALTER TABLE category ADD COLUMN root_name VARCHAR(50)
    GENERATED ALWAYS AS (CASE WHEN parent_id IS NULL THEN name END) VIRTUAL;
CREATE UNIQUE INDEX uk_category_root_name ON category (root_name);
