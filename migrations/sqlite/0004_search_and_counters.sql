-- Search and counters, as in migrations/mysql/0004.
--
-- Additions to the ERD:
--   post_search              one row per post: its current title and content case-folded by the application
--                            and the hexadecimal bigram tokens of both
--     post_search.post_id    the post (primary key; FK → post)
--     post_search.title      the folded title; LIKE on it is exact (the text is folded already)
--     post_search.body       the folded content
--     post_search.grams      the distinct bigrams of title and body as hexadecimal tokens
--   post_search_fts          FTS5 index over post_search.grams (external content, no positions: a term's
--                            candidates are the posts holding all its bigrams); the triggers below keep it in step
--                            with post_search inside the same transaction. SQLite adds its shadow tables
--                            post_search_fts_data, _idx, _docsize and _config.
--   category.post_count      active posts directly in the category
--   user.post_count          active posts of the user
--   user.comment_count       active comments of the user
--
-- The counters are backfilled here; post_search is filled by the application right after migrating.

CREATE TABLE post_search (
    post_id INTEGER PRIMARY KEY REFERENCES post (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    grams TEXT NOT NULL
);

CREATE VIRTUAL TABLE post_search_fts USING fts5(
    grams, content = 'post_search', content_rowid = 'post_id', tokenize = 'ascii', detail = 'none'
);

CREATE TRIGGER post_search_after_insert AFTER INSERT ON post_search BEGIN
    INSERT INTO post_search_fts (rowid, grams) VALUES (new.post_id, new.grams);
END;

CREATE TRIGGER post_search_after_delete AFTER DELETE ON post_search BEGIN
    INSERT INTO post_search_fts (post_search_fts, rowid, grams) VALUES ('delete', old.post_id, old.grams);
END;

CREATE TRIGGER post_search_after_update AFTER UPDATE ON post_search BEGIN
    INSERT INTO post_search_fts (post_search_fts, rowid, grams) VALUES ('delete', old.post_id, old.grams);
    INSERT INTO post_search_fts (rowid, grams) VALUES (new.post_id, new.grams);
END;

ALTER TABLE category ADD COLUMN post_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE user ADD COLUMN post_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE user ADD COLUMN comment_count BIGINT NOT NULL DEFAULT 0;

UPDATE category SET post_count =
    (SELECT COUNT(*) FROM post p WHERE p.category_id = category.id AND p.is_active = TRUE);
UPDATE user SET
    post_count = (SELECT COUNT(*) FROM post p WHERE p.user_id = user.id AND p.is_active = TRUE),
    comment_count = (SELECT COUNT(*) FROM comment c WHERE c.user_id = user.id AND c.is_active = TRUE);
