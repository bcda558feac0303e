-- One row every category write updates first, in its transaction.
--
-- Additions to the ERD:
--   category_tree_version    a single row (id 1) whose version each category create, rename or move
--                            increments before it reads the tree. On one server the row lock queues category
--                            writers; on a multi-primary Galera cluster, where row locks are local to a node,
--                            two concurrent writes through different nodes both write this row, so
--                            certification aborts one of them (it is retried and then sees the other's tree):
--                            two opposite moves can never both commit and make a cycle.

CREATE TABLE category_tree_version (
    id INT NOT NULL PRIMARY KEY,
    version BIGINT NOT NULL
);

INSERT INTO category_tree_version (id, version) VALUES (1, 0);
