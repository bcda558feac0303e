-- As migrations/mysql/0010: the HTML each version of a post or comment renders to.
--
-- Additions to the ERD:
--   post_content.content_html      the version's `content` rendered by the application when it writes the
--   comment_content.content_html   version; NULL for older versions until the application fills them after
--                                  migrating (and renders a NULL it reads meanwhile).

ALTER TABLE post_content ADD COLUMN content_html TEXT NULL;
ALTER TABLE comment_content ADD COLUMN content_html TEXT NULL;
