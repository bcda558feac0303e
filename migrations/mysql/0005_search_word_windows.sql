-- Search tokens: word windows instead of bigrams.
--
-- post_search.grams now holds, for every position of every word of the folded title and content (a word is a
-- run of letters, digits and combining marks), the rest of the word from there up to 41 UTF-8 bytes, written
-- as `x` and the hexadecimal of those bytes (5-83 characters of [0-9a-fx]; within the default
-- innodb_ft_min_token_size 3 and innodb_ft_max_token_size 84, and no stop word). A term's words are looked up as
-- prefix queries (`+x…*` in boolean mode): every substring of a word starts one of its windows, so Korean
-- particles ("게시판에서" for "게시판") and terms that start inside a word are found, and a term costs the index
-- the posts holding its rarest word (bigrams of a number such as "999983" were each held by 5-100 % of the posts).
--
-- The rows written with bigrams are emptied here; the application writes every post's row again right after
-- migrating (see 0004), in batches of 500, before the server takes requests.

TRUNCATE TABLE post_search;
