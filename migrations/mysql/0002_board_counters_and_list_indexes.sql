-- Board core: what keeps reads of posts and comments one query deep and lists on index range scans.
--
-- Additions to the ERD (all derived from it, maintained in the same transaction as the rows they summarise):
--   post.current_version     the latest post_content.version (the row a reader sees); bumped before each new version
--                            is inserted, which also serialises concurrent edits of one post
--   post.vote_count          number of voter_post rows of the post
--   post.comment_count       number of active comments of the post
--   comment.current_version  the latest comment_content.version
--   comment.vote_count       number of voter_comment rows of the comment
--   post_content.content     MEDIUMTEXT instead of TEXT (see the end of this file)
--   indexes for the keyset-paginated lists: newest/oldest (is_active, id), per category, per author,
--   most voted (is_active, vote_count, id), and a post's comments (post_id, is_active, id)

ALTER TABLE post
    ADD COLUMN current_version INT NOT NULL DEFAULT 0,
    ADD COLUMN vote_count INT NOT NULL DEFAULT 0,
    ADD COLUMN comment_count INT NOT NULL DEFAULT 0;

ALTER TABLE comment
    ADD COLUMN current_version INT NOT NULL DEFAULT 0,
    ADD COLUMN vote_count INT NOT NULL DEFAULT 0;

CREATE INDEX ix_post_active ON post (is_active, id);
CREATE INDEX ix_post_category_active ON post (category_id, is_active, id);
CREATE INDEX ix_post_user_active ON post (user_id, is_active, id);
CREATE INDEX ix_post_active_votes ON post (is_active, vote_count, id);
CREATE INDEX ix_comment_post_active ON comment (post_id, is_active, id);
CREATE INDEX ix_comment_user_active ON comment (user_id, is_active, id);

-- post_content.content holds up to 40 000 characters (API.md), up to 160 000 bytes in utf8mb4: more than
-- TEXT's 65 535. MEDIUMTEXT is the same text type with a larger limit (SQLite has no limit to lift).
ALTER TABLE post_content MODIFY content MEDIUMTEXT NOT NULL;
