//! Search text: case folding for every script, the tokens a full-text index stores, and the LIKE pattern
//! that keeps exact substring semantics over the index's candidates.
//!
//! The index does not know words the way a language does: Korean attaches particles to nouns ("게시판에서"
//! must match "게시판"), and a term may start inside a word ("시판"). So the text is cut only where it
//! cannot matter — at characters that are neither letters, digits nor combining marks — and every position
//! of such a run of word characters (a *word*) gets a token: the rest of the word from there, up to
//! [`MAX_TOKEN_BYTES`] bytes (a *window*). A term word is then a **prefix** of some token of every post that
//! contains it, and the index answers `token*` from its sorted terms: the cost of a term is the number of
//! posts holding its rarest word, not the size of the board (a number such as "999983" is as selective as
//! it is rare, which pairs of characters could never be).
//!
//! A token is written as `x` and the hexadecimal of its UTF-8 bytes — at most 83 characters of
//! `[0-9a-fx]` — so a database's word splitter keeps it whole, its minimum and maximum token lengths
//! (MariaDB's `innodb_ft_min_token_size` 3 and `innodb_ft_max_token_size` 84 by default) never drop it, and
//! no stop word list (all of which are words of letters) contains it. A post whose tokens start with every
//! word of a term is a candidate; the LIKE filter then keeps the posts that hold the term itself.

use std::collections::BTreeSet;
use std::fmt::Write;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The escape character of [`like_pattern`] (`ESCAPE '!'`): unlike `\`, both dialects spell it the same.
pub const LIKE_ESCAPE: char = '!';

/// The longest window a token holds, in UTF-8 bytes: `x` + 82 hexadecimal digits stays within MariaDB's
/// default `innodb_ft_max_token_size` (84). 41 ASCII letters, 13 Hangul syllables; a longer term word is
/// looked up by its first window (still a prefix of every token that holds the word).
pub const MAX_TOKEN_BYTES: usize = 41;

/// At most this many words of a term go to the index before their frequencies are known.
pub const MAX_QUERY_GRAMS: usize = 12;

/// Case-folds `text` character by character with Unicode's lower-case mapping, the same way for stored
/// text and for terms, so every script folds alike ("ÄÖÜ" and "äöü", "ΣΑΣ" and "σασ") on every database.
/// (Per character on purpose: `str::to_lowercase` maps a final sigma by context, which would make a term
/// fold differently from the same letters inside a longer text.)
///
/// The text is NFC-normalised first (a composed "é" and "e" + U+0301 are one letter), and the few
/// lower-case letters that case folding merges further are merged too: a final sigma is a sigma, "ß" is "ss".
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.nfc() {
        for lower in c.to_lowercase() {
            match lower {
                'ς' => folded.push('σ'),
                'ß' => folded.push_str("ss"),
                other => folded.push(other),
            }
        }
    }
    folded
}

/// What a post is searched in: its title and current content, folded, and the index tokens of both (the
/// distinct windows of each, space-separated; none spans from title to content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText {
    pub title: String,
    pub body: String,
    pub grams: String,
}

impl SearchText {
    pub fn of(title: &str, content: &str) -> Self {
        let (title, body) = (fold(title), fold(content));
        let mut grams = windows(&title);
        grams.extend(windows(&body));
        let mut tokens = String::with_capacity(grams.iter().map(|g| g.len() + 1).sum());
        for gram in grams {
            if !tokens.is_empty() {
                tokens.push(' ');
            }
            tokens.push_str(&gram);
        }
        Self {
            title,
            body,
            grams: tokens,
        }
    }
}

/// Whether `c` belongs to a word: letters, digits and combining marks (a vowel sign of Hindi or Thai is
/// part of its word). Everything else separates words; the split depends on the character alone, so a
/// term is cut exactly as the texts that contain it.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// The folded text's words, each as its characters.
fn words(folded: &str) -> impl Iterator<Item = Vec<char>> + '_ {
    folded
        .split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().collect())
}

/// The token of the window starting at `chars[0]`: as many characters as fit in [`MAX_TOKEN_BYTES`].
fn token(chars: &[char]) -> String {
    let mut token = String::with_capacity(1 + 2 * MAX_TOKEN_BYTES);
    token.push('x');
    let (mut bytes, mut buf) = (0, [0u8; 4]);
    for c in chars {
        let encoded = c.encode_utf8(&mut buf);
        bytes += encoded.len();
        if bytes > MAX_TOKEN_BYTES {
            break;
        }
        for byte in encoded.bytes() {
            let _ = write!(token, "{byte:02x}");
        }
    }
    token
}

/// The distinct tokens of every position of every word that has at least two characters left (a one-character
/// term is never looked up in the index).
fn windows(folded: &str) -> BTreeSet<String> {
    let mut tokens = BTreeSet::new();
    for word in words(folded) {
        for start in 0..word.len().saturating_sub(1) {
            tokens.insert(token(&word[start..]));
        }
    }
    tokens
}

/// The tokens a post must hold, each as a prefix of one of its tokens, to contain `term`: one per word of
/// at least two characters (at most [`MAX_QUERY_GRAMS`], a word implied by a longer one left out); empty
/// when the term has no such word (it can only be walked).
pub fn query_tokens(term: &str) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    for word in words(&fold(term)).filter(|w| w.len() >= 2) {
        let token = token(&word);
        if tokens.iter().any(|t| t.starts_with(&token)) {
            continue;
        }
        tokens.retain(|t| !token.starts_with(t.as_str()));
        tokens.push(token);
    }
    tokens.truncate(MAX_QUERY_GRAMS);
    tokens
}

/// A LIKE pattern (`ESCAPE '!'`) that matches the folded `term` literally anywhere in a folded text
/// (`%`, `_` and `!` escaped).
pub fn like_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in fold(term).chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            pattern.push(LIKE_ESCAPE);
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The index is sent at most this many of a term's words once their frequencies are known: the rarest one
/// narrows the candidates to the posts holding it, a second guards against a sample that missed it, and
/// every further word costs the index its posting lists.
pub const MAX_SELECTIVE_GRAMS: usize = 2;

/// A sample smaller than this says too little about frequencies; the term's words are then used as they are.
pub const MIN_SAMPLE_POSTS: u32 = 200;

/// How many posts of a sample (the newest posts) hold a token starting with each of a term's words: which
/// words are rare enough to be worth asking the index for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GramFrequencies {
    /// Posts in the sample.
    pub posts: u32,
    /// Each sampled post's tokens, sorted (a prefix's tokens are found by one binary search).
    lists: Vec<Box<[String]>>,
}

impl GramFrequencies {
    /// From the stored token lists (`SearchText::grams`) of the sampled posts.
    pub fn of<'a>(gram_lists: impl IntoIterator<Item = &'a str>) -> Self {
        let mut sample = Self::default();
        for grams in gram_lists {
            let mut tokens: Vec<String> = grams
                .split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect();
            tokens.sort_unstable();
            sample.lists.push(tokens.into_boxed_slice());
        }
        sample.posts = u32::try_from(sample.lists.len()).unwrap_or(u32::MAX);
        sample
    }

    /// How many sampled posts hold a token starting with `prefix`.
    pub fn held(&self, prefix: &str) -> u32 {
        let holding = self
            .lists
            .iter()
            .filter(|tokens| {
                let at = tokens.partition_point(|t| t.as_str() < prefix);
                tokens.get(at).is_some_and(|t| t.starts_with(prefix))
            })
            .count();
        u32::try_from(holding).unwrap_or(u32::MAX)
    }

    /// The tokens of [`query_tokens`] worth sending to the index: the rarest first, at most
    /// [`MAX_SELECTIVE_GRAMS`], leaving out those held by more than half of the sample unless no other is
    /// left (then the rarest alone). Any subset is correct — the exact filter runs on the candidates — so
    /// this only trades posting lists read for candidates filtered.
    pub fn selective(&self, mut tokens: Vec<String>) -> Vec<String> {
        if self.posts < MIN_SAMPLE_POSTS {
            return tokens;
        }
        let mut ranked: Vec<(u32, String)> = tokens.drain(..).map(|t| (self.held(&t), t)).collect();
        // Rarest first; of two alike, the longer word says more.
        ranked.sort_by_key(|(held, token)| (*held, std::cmp::Reverse(token.len())));
        let rare = ranked
            .iter()
            .take_while(|(held, _)| held.saturating_mul(2) <= self.posts)
            .count();
        ranked.truncate(rare.clamp(1, MAX_SELECTIVE_GRAMS));
        ranked.into_iter().map(|(_, t)| t).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_covers_every_script_and_is_per_character() {
        assert_eq!(fold("ÄÖÜ"), "äöü");
        assert_eq!(fold("ΣΑΣ"), "σασ");
        assert_eq!(fold("ДОСКА"), "доска");
        assert_eq!(fold("게시판 ABC"), "게시판 abc");
        // Fullwidth Latin folds too.
        assert_eq!(fold("ＡＢ"), "ａｂ");
    }

    #[test]
    fn folding_merges_what_case_folding_merges() {
        // A word-final sigma, typed either way, and the upper-case word fold alike.
        assert_eq!(fold("ΟΔΟΣ"), fold("οδος"));
        assert_eq!(fold("Straße"), fold("STRASSE"));
        // Composed and decomposed accents and Hangul are one text.
        assert_eq!(fold("caf\u{e9}"), fold("cafe\u{301}"));
        assert_eq!(fold("\u{d55c}"), fold("\u{1112}\u{1161}\u{11ab}"));
    }

    /// Whether a post's stored tokens answer the index's question for `term`: each query token is a
    /// prefix of one of them.
    fn candidate(text: &SearchText, term: &str) -> bool {
        let stored: Vec<&str> = text.grams.split(' ').collect();
        query_tokens(term)
            .iter()
            .all(|q| stored.iter().any(|t| t.starts_with(q.as_str())))
    }

    #[test]
    fn title_and_content_stay_apart() {
        let text = SearchText::of("Ab", "cD");
        assert_eq!((text.title.as_str(), text.body.as_str()), ("ab", "cd"));
        // One window per position with two characters left; "bc" spans the border: not a token.
        assert_eq!(text.grams, "x6162 x6364");
        assert!(!candidate(&text, "bc"));
    }

    #[test]
    fn every_substring_of_a_word_is_a_prefix_of_a_token() {
        let text = SearchText::of("Post #999983", "게시판에서 만나요, e\u{301}té!");
        for term in [
            "post",
            "ost",
            "999983",
            "9998",
            "983",
            "post #999983",
            "st #99",
            "게시판",
            "시판에",
            "판에서 만나",
        ] {
            assert!(candidate(&text, term), "{term}");
        }
        for term in ["999984", "poster", "게시물", "만나서"] {
            assert!(!candidate(&text, term), "{term}");
        }
        // Every token is a hexadecimal word that a default MariaDB indexes whole.
        assert!(text.grams.split(' ').all(|t| {
            (5..=84).contains(&t.len())
                && t.starts_with('x')
                && t[1..].chars().all(|c| c.is_ascii_hexdigit())
        }));
    }

    #[test]
    fn long_words_are_cut_at_the_token_limit_and_still_found() {
        let word = "가".repeat(40);
        let text = SearchText::of(&word, "");
        assert!(text.grams.split(' ').all(|t| t.len() <= 84));
        // Distinct windows only: a run of one syllable has one full-length window and shorter ones at its end.
        assert_eq!(text.grams.split(' ').count(), 12);
        assert!(candidate(&text, &"가".repeat(30)));
        assert_eq!(query_tokens(&"가".repeat(30))[0].len(), 1 + 2 * 39);
    }

    #[test]
    fn terms_look_up_their_words_of_two_or_more_characters() {
        assert!(query_tokens("a").is_empty());
        assert!(query_tokens("a b !").is_empty());
        assert_eq!(query_tokens("Aa"), vec!["x6161".to_owned()]);
        // "po" is implied by "post", whichever comes first.
        assert_eq!(query_tokens("po post"), vec!["x706f7374".to_owned()]);
        assert_eq!(query_tokens("post po"), vec!["x706f7374".to_owned()]);
        assert_eq!(query_tokens("50%_off").len(), 2);
        let many: String = (0..30).map(|n| format!("w{n:02} ")).collect();
        assert_eq!(query_tokens(&many).len(), MAX_QUERY_GRAMS);
    }

    #[test]
    fn the_index_is_asked_for_the_rarest_words_only() {
        // 1 000 posts "demo post #n": "post" is in all of them, "77" starts some numbers, "777" one.
        let texts: Vec<SearchText> = (0..1000)
            .map(|n| SearchText::of(&format!("demo post #{n}"), ""))
            .collect();
        let sample = GramFrequencies::of(texts.iter().map(|t| t.grams.as_str()));
        assert_eq!(sample.posts, 1000);
        let hex = |s: &str| query_tokens(s)[0].clone();
        assert_eq!(sample.held(&hex("post")), 1000);
        assert_eq!(sample.held(&hex("777")), 1);
        // 77, 177, …, 977 and 770–779: posts holding a token the prefix starts, each once.
        assert_eq!(sample.held(&hex("77")), 19);

        let picked = sample.selective(query_tokens("post #777"));
        assert_eq!(picked, vec![hex("777")], "the common word is left out");
        // Only common words: the rarest one alone; of two held by every sampled post, the longer one.
        assert_eq!(sample.selective(query_tokens("demo post")).len(), 1);
        assert_eq!(
            sample.selective(query_tokens("emo demo")),
            vec![hex("demo")]
        );
        // Words the sample never saw are the rarest of all; at most two go.
        assert_eq!(
            sample.selective(query_tokens("qxz jvk wyy")).len(),
            MAX_SELECTIVE_GRAMS
        );
        // Too small a sample: the term's words as they are.
        let small = GramFrequencies::of(texts[..10].iter().map(|t| t.grams.as_str()));
        let tokens = query_tokens("post #777");
        assert_eq!(small.selective(tokens.clone()), tokens);
    }

    #[test]
    fn like_patterns_are_literal_and_folded() {
        assert_eq!(like_pattern("50%_off!"), "%50!%!_off!!%");
        assert_eq!(like_pattern("RUST"), "%rust%");
        assert_eq!(like_pattern("ÄÖÜ"), "%äöü%");
    }
}
