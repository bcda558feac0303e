-- The HTML each version of a post or comment renders to, stored with the version (docs/markdown.md).
--
-- Additions to the ERD:
--   post_content.content_html      the version's `content` rendered (Markdown → sanitised HTML) by the
--   comment_content.content_html   application when it writes the version. NULL for versions written before
--                                  this migration (or by a process that predates it): the application fills
--                                  them right after migrating, and renders a NULL it reads meanwhile.
--                                  MEDIUMTEXT: the HTML of a 40 000-character post can pass TEXT's 65 535 bytes.

ALTER TABLE post_content ADD COLUMN content_html MEDIUMTEXT NULL;
ALTER TABLE comment_content ADD COLUMN content_html MEDIUMTEXT NULL;
