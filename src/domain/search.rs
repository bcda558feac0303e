//! Search text: case folding for every script, the n-gram tokens a full-text index stores, and the LIKE
//! pattern that keeps exact substring semantics over the index's candidates.
//!
//! The full-text index does not know words: Korean attaches particles to nouns ("게시판에서" must match
//! "게시판"), so the indexed unit is every pair of adjacent characters (a bigram) of the folded text. A bigram
//! is stored as the hexadecimal of its UTF-8 bytes — a token of 4–16 characters from `[0-9a-f]`, so a
//! database's word splitter keeps it whole, its minimum token length (MariaDB's `innodb_ft_min_token_size`
//! defaults to 3) never drops it, and no stop word list (all of which are words of letters) contains it.
//! A post whose text holds every bigram of a term is a candidate; the LIKE filter then keeps the posts that
//! hold the term itself.

use std::collections::BTreeSet;
use std::fmt::Write;

use unicode_normalization::UnicodeNormalization;

/// The escape character of [`like_pattern`] (`ESCAPE '!'`): unlike `\`, both dialects spell it the same.
pub const LIKE_ESCAPE: char = '!';

/// At most this many bigrams of a term go to the index; more would not narrow the candidates much and
/// each costs the index a posting list.
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
/// distinct bigrams of each, space-separated; none spans from title to content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText {
    pub title: String,
    pub body: String,
    pub grams: String,
}

impl SearchText {
    pub fn of(title: &str, content: &str) -> Self {
        let (title, body) = (fold(title), fold(content));
        let mut grams = bigrams(&title);
        grams.extend(bigrams(&body));
        let mut tokens = String::with_capacity(grams.len() * 13);
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

fn bigrams(folded: &str) -> BTreeSet<String> {
    let chars: Vec<char> = folded.chars().collect();
    let mut grams = BTreeSet::new();
    for pair in chars.windows(2) {
        let mut token = String::with_capacity(16);
        let mut buf = [0u8; 4];
        for c in pair {
            for byte in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(token, "{byte:02x}");
            }
        }
        grams.insert(token);
    }
    grams
}

/// The tokens a post must all hold to contain `term` (at most [`MAX_QUERY_GRAMS`], spread over the term,
/// the first and last included); empty when the folded term is a single character.
pub fn query_tokens(term: &str) -> Vec<String> {
    let folded = fold(term);
    let chars: Vec<char> = folded.chars().collect();
    let mut ordered: Vec<String> = Vec::new();
    for gram in chars.windows(2) {
        let gram: String = gram.iter().collect();
        if let Some(token) = bigrams(&gram).into_iter().next()
            && !ordered.contains(&token)
        {
            ordered.push(token);
        }
    }
    if ordered.len() <= MAX_QUERY_GRAMS {
        return ordered;
    }
    let last = ordered.len() - 1;
    let mut picked: Vec<String> = (0..MAX_QUERY_GRAMS)
        .map(|i| ordered[i * last / (MAX_QUERY_GRAMS - 1)].clone())
        .collect();
    picked.dedup();
    picked
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

/// The index is sent at most this many of a term's bigrams once their frequencies are known: the rarest
/// ones narrow the candidates as much as all of them would, and every bigram costs the index its whole
/// posting list (a bigram in every post costs as much as the board is large).
pub const MAX_SELECTIVE_GRAMS: usize = 4;

/// A sample smaller than this says too little about frequencies; the term's bigrams are then used as they are.
pub const MIN_SAMPLE_POSTS: u32 = 200;

/// How many posts of a sample (the newest posts) hold each bigram token: which of a term's bigrams are
/// rare enough to be worth asking the index for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GramFrequencies {
    /// Posts in the sample.
    pub posts: u32,
    /// Posts of the sample holding each token.
    pub holding: std::collections::HashMap<String, u32>,
}

impl GramFrequencies {
    /// From the stored token lists (`SearchText::grams`) of the sampled posts.
    pub fn of<'a>(gram_lists: impl IntoIterator<Item = &'a str>) -> Self {
        let mut sample = Self::default();
        for grams in gram_lists {
            sample.posts += 1;
            for token in grams.split(' ').filter(|t| !t.is_empty()) {
                *sample.holding.entry(token.to_owned()).or_insert(0) += 1;
            }
        }
        sample
    }

    /// The tokens of [`query_tokens`] worth sending to the index: the rarest first, at most
    /// [`MAX_SELECTIVE_GRAMS`], leaving out those held by more than half of the sample unless no other is
    /// left (then the two rarest). Any subset is correct — the exact filter runs on the candidates — so this
    /// only trades posting lists read for candidates filtered.
    pub fn selective(&self, mut tokens: Vec<String>) -> Vec<String> {
        if self.posts < MIN_SAMPLE_POSTS {
            return tokens;
        }
        let held = |t: &String| self.holding.get(t).copied().unwrap_or(0);
        tokens.sort_by_key(held);
        let rare = tokens
            .iter()
            .take_while(|t| held(t) * 2 <= self.posts)
            .count();
        tokens.truncate(if rare == 0 {
            2
        } else {
            rare.min(MAX_SELECTIVE_GRAMS)
        });
        tokens
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

    #[test]
    fn title_and_content_stay_apart() {
        let text = SearchText::of("Ab", "cD");
        assert_eq!((text.title.as_str(), text.body.as_str()), ("ab", "cd"));
        // "bc" spans the border: not a token.
        assert_eq!(text.grams, "6162 6364");
    }

    #[test]
    fn korean_terms_are_found_inside_longer_words() {
        let text = SearchText::of("게시판에서 만나요", "");
        let stored: BTreeSet<&str> = text.grams.split(' ').collect();
        let wanted = query_tokens("게시판");
        assert_eq!(wanted.len(), 2);
        assert!(wanted.iter().all(|t| stored.contains(t.as_str())));
        // Every token is long enough for a default innodb_ft_min_token_size and only hex digits.
        assert!(
            stored
                .iter()
                .all(|t| t.len() >= 4 && t.chars().all(|c| c.is_ascii_hexdigit()))
        );
    }

    #[test]
    fn single_characters_have_no_tokens_and_long_terms_few() {
        assert!(query_tokens("a").is_empty());
        assert!(query_tokens("A").is_empty());
        assert_eq!(query_tokens("Aa"), vec!["6161".to_owned()]);
        let long = query_tokens("abcdefghijklmnopqrstuvwxyz");
        assert!(long.len() <= MAX_QUERY_GRAMS);
        assert_eq!(long[0], "6162");
        assert_eq!(long.last().map(String::as_str), Some("797a"));
    }

    #[test]
    fn the_index_is_asked_for_the_rarest_bigrams_only() {
        // 1 000 posts "demo post #n": the bigrams of "post" are in all of them, "#7" in some, "77" in few.
        let texts: Vec<SearchText> = (0..1000)
            .map(|n| SearchText::of(&format!("demo post #{n}"), ""))
            .collect();
        let sample = GramFrequencies::of(texts.iter().map(|t| t.grams.as_str()));
        assert_eq!(sample.posts, 1000);
        let tokens = query_tokens("post #777");
        assert_eq!(tokens.len(), 7);
        let picked = sample.selective(tokens.clone());
        let hex = |s: &str| query_tokens(s)[0].clone();
        assert_eq!(picked.len(), 2, "{picked:?}");
        assert_eq!(picked[0], hex("77"), "the rarest first");
        assert!(!picked.contains(&hex("po")), "{picked:?}");

        // Only common bigrams: the two rarest still narrow the candidates.
        assert_eq!(sample.selective(query_tokens("demo post")).len(), 2);
        // Bigrams the sample never saw are the rarest of all; at most four go.
        assert_eq!(
            sample.selective(query_tokens("qxzjvkw")).len(),
            MAX_SELECTIVE_GRAMS
        );
        // Too small a sample: the term's bigrams as they are.
        let small = GramFrequencies::of(texts[..10].iter().map(|t| t.grams.as_str()));
        assert_eq!(small.selective(tokens.clone()), tokens);
    }

    #[test]
    fn like_patterns_are_literal_and_folded() {
        assert_eq!(like_pattern("50%_off!"), "%50!%!_off!!%");
        assert_eq!(like_pattern("RUST"), "%rust%");
        assert_eq!(like_pattern("ÄÖÜ"), "%äöü%");
    }
}
