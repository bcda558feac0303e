-- Threaded replies: a comment may answer another comment of the same post (docs/threads.md).
--
-- Additions to the ERD:
--   comment.parent_id          the comment it replies to (same post); NULL for a top-level comment. Every
--                              comment written before this migration is top-level.
--   comment.depth              how many ancestors it has: 0 at the top level, at most 8 (the application
--                              attaches deeper replies beside the depth-8 comment they answer)
--   comment.reply_count        its live (neither deleted nor removed) direct replies, kept in the write
--                              transactions of the replies, whatever the comment's own state
--   post.top_comment_count     its live top-level comments, kept like post.comment_count (which counts
--                              replies too); backfilled from comment_count, since every comment is top-level
--   ix_comment_parent          (parent_id): the index of fk_comment_parent, created before it so InnoDB takes
--                              it for the constraint. An index no update changes (parent_id is written once):
--                              with the constraint on ix_comment_parent_active instead, deleting a reply
--                              (is_active) re-checked the constraint, share-locking the parent, and two
--                              deletes of sibling replies then deadlocked upgrading to the parent's counter
--   ix_comment_parent_active   (parent_id, is_active, id): a page of replies is an index range scan
--   ix_comment_post_depth      (post_id, is_active, depth, id): so is a page of top-level comments

ALTER TABLE comment
    ADD COLUMN parent_id BIGINT NULL,
    ADD COLUMN depth INT NOT NULL DEFAULT 0,
    ADD COLUMN reply_count INT NOT NULL DEFAULT 0,
    ADD KEY ix_comment_parent (parent_id),
    ADD KEY ix_comment_parent_active (parent_id, is_active, id),
    ADD KEY ix_comment_post_depth (post_id, is_active, depth, id);
ALTER TABLE comment ADD CONSTRAINT fk_comment_parent FOREIGN KEY (parent_id) REFERENCES comment (id);
ALTER TABLE post ADD COLUMN top_comment_count INT NOT NULL DEFAULT 0;
UPDATE post SET top_comment_count = comment_count;
