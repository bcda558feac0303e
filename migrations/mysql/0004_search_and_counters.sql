-- Search and counters: reads whose cost does not grow with the board.
--
-- Additions to the ERD (all derived from it, written in the same transaction as the rows they describe):
--   post_search              one row per post: what search reads instead of post_content
--     post_search.post_id    the post (primary key; FK → post)
--     post_search.title      the current title, case-folded by the application (Unicode lower case, character
--                            by character, so every script folds alike); utf8mb4_bin, so LIKE compares it exactly
--     post_search.body       the current content, folded the same way
--     post_search.grams      the distinct pairs of adjacent characters (bigrams) of title and of body, each written as the
--                            hexadecimal of its UTF-8 bytes (4-16 characters of [0-9a-f]); under the FULLTEXT index
--                            ft_post_search_grams a term's bigrams find its candidate posts, with no word
--                            boundaries needed (Korean particles attach to nouns) and on a stock server: every
--                            token is longer than the default innodb_ft_min_token_size (3) and none is a stop word
--   category.post_count      active posts directly in the category (a category with its descendants sums them)
--   user.post_count          active posts of the user
--   user.comment_count       active comments of the user
--
-- The counters are backfilled here. post_search is filled by the application right after migrating (the folding
-- and the bigrams are computed in Rust, the same for both dialects), for every post that has no row yet.

CREATE TABLE post_search (
    post_id BIGINT NOT NULL PRIMARY KEY,
    title TEXT NOT NULL,
    body MEDIUMTEXT NOT NULL,
    grams MEDIUMTEXT NOT NULL,
    CONSTRAINT fk_post_search_post FOREIGN KEY (post_id) REFERENCES post (id),
    FULLTEXT INDEX ft_post_search_grams (grams)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

ALTER TABLE category ADD COLUMN post_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE `user`
    ADD COLUMN post_count BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN comment_count BIGINT NOT NULL DEFAULT 0;

UPDATE category SET post_count =
    (SELECT COUNT(*) FROM post p WHERE p.category_id = category.id AND p.is_active = TRUE);
UPDATE `user` SET
    post_count = (SELECT COUNT(*) FROM post p WHERE p.user_id = `user`.id AND p.is_active = TRUE),
    comment_count = (SELECT COUNT(*) FROM comment c WHERE c.user_id = `user`.id AND c.is_active = TRUE);
