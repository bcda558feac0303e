-- One row every category write updates first, in its transaction (see the MariaDB migration 0007).
--
-- Additions to the ERD:
--   category_tree_version    a single row (id 1) whose version each category create, rename or move
--                            increments as its transaction's first statement, which takes SQLite's write lock
--                            before the tree is read.

CREATE TABLE category_tree_version (
    id INTEGER NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL
);

INSERT INTO category_tree_version (id, version) VALUES (1, 0);
