-- Search tokens: word windows instead of bigrams (see migrations/mysql/0005). FTS5 answers a window's prefix
-- query ("x…"*) from its sorted terms.
--
-- The rows written with bigrams are emptied (the index with them, rebuilt empty rather than deleted row by
-- row); the application writes every post's row again right after migrating.

DROP TRIGGER post_search_after_insert;
DROP TRIGGER post_search_after_delete;
DROP TRIGGER post_search_after_update;
DROP TABLE post_search_fts;
DELETE FROM post_search;

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
