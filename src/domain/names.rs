//! User names: what may be chosen (API.md, "Inputs and their limits"), and the two keys that make a name
//! unique — ignoring case ([`name_key`]) and ignoring look-alikes ([`name_skeleton`]).

use unicode_normalization::UnicodeNormalization;
use unicode_script::{Script, UnicodeScript};
use unicode_security::GeneralSecurityProfile;
use unicode_security::mixed_script::AugmentedScriptSet;

use super::errors::{AppError, AppResult};

pub const NAME_MIN_CHARS: usize = 2;
pub const NAME_MAX_CHARS: usize = 30;

/// A user name: NFC-normalised, 2–30 characters of letters, digits, `_` and `-`; no compatibility forms;
/// only characters of Unicode's identifier profile, with scripts mixed no further than UTS #39's *Highly
/// Restrictive* level allows: one script, or Latin with Han and Hangul (Korean), with Han, Hiragana and
/// Katakana (Japanese), or with Han and Bopomofo (Chinese). Digits, `_` and `-` belong to every script.
pub fn user_name(field: &str, raw: &str) -> AppResult<String> {
    let name: String = raw.nfc().collect();
    let chars = name.chars().count();
    if !(NAME_MIN_CHARS..=NAME_MAX_CHARS).contains(&chars) {
        return Err(AppError::invalid(
            field,
            format!("must be {NAME_MIN_CHARS}–{NAME_MAX_CHARS} characters long"),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_alphabetic() || c.is_numeric() || *c == '_' || *c == '-'))
    {
        return Err(AppError::invalid(
            field,
            format!("may contain only letters, digits, '_' and '-' (found {bad:?})"),
        ));
    }
    // Full-width, mathematical, circled… forms: NFKC folds them to plain letters, so they would pass for those.
    if let Some(bad) = name.chars().find(|c| {
        let mut one = [0_u8; 4];
        let c = &*c.encode_utf8(&mut one);
        c.nfkc().collect::<String>() != c
    }) {
        return Err(AppError::invalid(
            field,
            format!("must use plain letters and digits ({bad:?} is a compatibility form)"),
        ));
    }
    // Obsolete, technical and rarely used letters (UTS #39 identifier profile).
    if let Some(bad) = name.chars().find(|c| !in_profile(*c)) {
        return Err(AppError::invalid(
            field,
            format!("may not use {bad:?}, a letter Unicode keeps out of identifiers"),
        ));
    }
    // A Cyrillic 'а' among Latin letters would let one name pass for another.
    if !is_highly_restrictive(&name) {
        return Err(AppError::invalid(
            field,
            "must not mix letters of different scripts (Latin goes only with Hangul, Han, Kana or Bopomofo)",
        ));
    }
    Ok(name)
}

/// Unicode's identifier profile, widened for people's names: Han of every block (`𠮷` is in extension B,
/// which the profile leaves out as uncommon) and Bopomofo (listed for limited use, yet UTS #39's Highly
/// Restrictive level names it as the script Chinese writes beside Han and Latin).
fn in_profile(c: char) -> bool {
    c.identifier_allowed() || matches!(c.script(), Script::Han | Script::Bopomofo)
}

/// UTS #39 Highly Restrictive, by scripts (the identifier profile is checked apart, for its own message):
/// one script — Common and Inherited characters belong to every one, and Han with Hangul, Han with Kana and
/// Han with Bopomofo count as one — alone or with Latin.
fn is_highly_restrictive(name: &str) -> bool {
    let mut all = AugmentedScriptSet::default();
    let mut beside_latin = AugmentedScriptSet::default();
    for c in name.chars() {
        let scripts = AugmentedScriptSet::for_char(c);
        all.intersect_with(scripts);
        if !scripts.base.contains_script(Script::Latin) {
            beside_latin.intersect_with(scripts);
        }
    }
    !all.is_empty() || beside_latin.kore || beside_latin.jpan || beside_latin.hanb
}

/// The answer to a name someone holds, ignoring case.
pub fn taken() -> AppError {
    AppError::conflict("name", "this name is taken")
}

/// The answer to a name that looks like one someone holds (one [`name_skeleton`]).
pub fn looks_taken() -> AppError {
    AppError::conflict("name", "this name looks like a taken name")
}

/// The key that makes names unique ignoring case, for every script (not only ASCII):
/// stored in `user.name_key` under a byte-wise collation, so MariaDB and SQLite agree.
pub fn name_key(name: &str) -> String {
    name.nfc().collect::<String>().to_lowercase()
}

/// The most characters [`name_skeleton`] makes of one character of a valid name (a unit test holds every
/// such character to it); `user.name_skeleton` is `NAME_MAX_CHARS` times this wide.
pub const SKELETON_MAX_CHARS_PER_CHAR: usize = 5;
/// The width of `user.name_skeleton`.
pub const SKELETON_MAX_CHARS: usize = NAME_MAX_CHARS * SKELETON_MAX_CHARS_PER_CHAR;

/// Rounds of skeleton + lower case before [`name_skeleton`] stops looking for a fixed point (two suffice for
/// every character of a valid name; the unit tests check that).
const FOLD_ROUNDS: usize = 4;

/// The key that makes names unique ignoring look-alikes: the UTS #39 skeleton (confusables folded to one
/// prototype: Cyrillic `рау` → `pay`, `0` → `O`, `I` → `l`), lower-cased, repeated until nothing changes
/// (a prototype may be upper case, and a lower-case letter may have a prototype of its own), so `Pay`, `pay`
/// and `рау` share one skeleton. Stored in `user.name_skeleton`, unique.
///
/// A Hangul syllable is its own skeleton. The plain skeleton decomposes syllables into jamo and folds final
/// consonants onto initial ones, so `각가` and `가까` — which look nothing alike — would share one; a
/// syllable block is read whole, and no two syllables share a skeleton.
pub fn name_skeleton(name: &str) -> String {
    let name: String = name.nfc().collect();
    let mut skeleton = String::with_capacity(name.len());
    let mut run = String::new();
    for c in name.chars() {
        if is_hangul_syllable(c) {
            skeleton.push_str(&fold(&run));
            run.clear();
            skeleton.push(c);
        } else {
            run.push(c);
        }
    }
    skeleton.push_str(&fold(&run));
    skeleton
}

fn is_hangul_syllable(c: char) -> bool {
    ('\u{ac00}'..='\u{d7a3}').contains(&c)
}

/// Skeleton, then lower case, until a fixed point.
fn fold(run: &str) -> String {
    let mut folded = run.to_owned();
    for _ in 0..FOLD_ROUNDS {
        let next = fold_round(&folded);
        if next == folded {
            break;
        }
        folded = next;
    }
    folded
}

fn fold_round(text: &str) -> String {
    unicode_security::skeleton(text)
        .collect::<String>()
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::errors::field_of;

    fn accepted(name: &str) -> bool {
        user_name("name", name).is_ok()
    }

    #[test]
    fn korean_names_are_accepted_alone_and_mixed_with_latin() {
        for name in [
            "김철수",
            "이영희",
            "박지성",
            "남궁민수",
            "철수",
            "철수1",
            "영희_99",
            "2024신입",
            "철수kim",
            "dev_철수",
            "앨리스_bob",
            "게시판Admin",
            "kim-철수-2",
            "Seoul서울",
            "김치찌개",
            "똠양꿍",
            "홍길동_Hong",
            "漢字한글",
            "金철수kim",
            "뷁뷁",
            "쀍_x",
        ] {
            assert!(
                accepted(name),
                "{name} was refused: {:?}",
                user_name("name", name)
            );
        }
        // Every syllable, alone, with digits, and beside Latin with `_`.
        for c in '\u{ac00}'..='\u{d7a3}' {
            for name in [
                format!("{c}{c}"),
                format!("{c}07"),
                format!("kim_{c}"),
                format!("{c}-Lee"),
            ] {
                assert!(
                    accepted(&name),
                    "{name} was refused: {:?}",
                    user_name("name", &name)
                );
            }
        }
    }

    #[test]
    fn writing_systems_that_combine_scripts_are_accepted() {
        for name in [
            // Japanese: Han, Hiragana, Katakana, with Latin.
            "東京tokyo",
            "山田たろう",
            "ヤマダ_taro",
            "すし_sushi",
            // Han beyond the basic block: Japanese 𠮷 (extension B), Korean given-name hanja.
            "𠮷野家",
            "李㐀",
            // Chinese: Han and Bopomofo, with Latin.
            "李ㄅㄆ_li",
            "王小明wang",
            // One script at a time, whatever it is.
            "kim",
            "José",
            "ким",
            "Ωμέγα",
            "рау",
            "jo_e-2",
            "42",
        ] {
            assert!(
                accepted(name),
                "{name} was refused: {:?}",
                user_name("name", name)
            );
        }
    }

    #[test]
    fn scripts_mixed_beyond_highly_restrictive_are_refused() {
        for name in [
            // Latin with Cyrillic: `а` is Cyrillic.
            "pаypal",
            "кim",
            // Latin with Greek.
            "pαypal",
            "Ωmega",
            // Hangul with Kana, Hangul with Bopomofo, Kana with Bopomofo: no writing system combines them.
            "철수たろう",
            "철수ㄅ",
            "たろうㄅ",
            // Latin with a script that is neither Han nor Greek nor Cyrillic: Moderately Restrictive only.
            "abcअ",
        ] {
            let err = user_name("name", name).expect_err(name);
            assert_eq!(field_of(err), "name");
        }
    }

    #[test]
    fn compatibility_forms_and_letters_outside_the_identifier_profile_are_refused() {
        // Full-width, mathematical bold, Hangul compatibility jamo (NFKC makes them other characters).
        for name in ["ｋｉｍ", "𝐤𝐢𝐦", "ㅋㅋ", "ﾀﾛｳ"] {
            assert!(!accepted(name), "{name} was accepted");
        }
        // Old Hangul jamo, a Gothic letter: letters, but not of the identifier profile.
        for name in ["ᄀᄀ", "ab𐌰"] {
            let err = user_name("name", name).expect_err(name);
            assert!(
                format!("{err:?}").contains("identifiers"),
                "{name}: {err:?}"
            );
        }
    }

    #[test]
    fn names_are_bounded_and_restricted() {
        assert_eq!(field_of(user_name("name", "a").unwrap_err()), "name");
        assert!(user_name("name", &"a".repeat(31)).is_err());
        assert!(user_name("name", &"가".repeat(30)).is_ok());
        assert!(user_name("name", "a b").is_err());
        assert!(user_name("name", "ab🦀").is_err());
        assert!(user_name("name", "ab'--").is_err());
        assert!(user_name("name", "ab.cd").is_err());
    }

    #[test]
    fn decomposed_hangul_is_normalised() {
        let decomposed = "\u{1100}\u{1161}\u{11A8}\u{1100}\u{1161}"; // 각가 as jamo
        assert_eq!(user_name("name", decomposed).as_deref(), Ok("각가"));
    }

    #[test]
    fn name_key_folds_case_beyond_ascii() {
        assert_eq!(name_key("ÄBC"), name_key("äbc"));
        assert_eq!(name_key("ΣΟΦΙΑ"), name_key("σοφια"));
        assert_ne!(name_key("김"), name_key("이"));
    }

    #[test]
    fn look_alikes_share_a_skeleton_whatever_their_case() {
        let pay = name_skeleton("pay");
        for name in ["Pay", "PAY", "рау", "РАУ", "ρay"] {
            assert_eq!(name_skeleton(name), pay, "{name}");
        }
        assert_eq!(name_skeleton("paypal"), name_skeleton("pаypal"));
        assert_eq!(name_skeleton("Bill"), name_skeleton("BilI"));
        assert_eq!(name_skeleton("kim0"), name_skeleton("kimO"));
        assert_eq!(name_skeleton("kim0"), name_skeleton("kimo"));
        assert_eq!(name_skeleton("철수KIM"), name_skeleton("철수КІМ"));
        assert_eq!(name_skeleton("modern"), name_skeleton("rnodern"));
        assert_ne!(name_skeleton("pay"), name_skeleton("pey"));
        assert_ne!(name_skeleton("kim"), name_skeleton("lim"));
    }

    #[test]
    fn distinct_korean_names_keep_distinct_skeletons() {
        // The plain UTS #39 skeleton folds a final consonant onto the next initial: these pairs would collide.
        for (a, b) in [
            ("각가", "가까"),
            ("갓시", "가씨"),
            ("밥바", "바빠"),
            ("핫사", "하싸"),
        ] {
            assert_ne!(name_skeleton(a), name_skeleton(b), "{a} / {b}");
        }
        // Names beside Latin keep their syllables; the Latin part is folded.
        assert!(name_skeleton("철수kim").starts_with("철수"));
        assert!(name_skeleton("dev_철수").ends_with("_철수"));
        assert_ne!(name_skeleton("이"), name_skeleton("ol"));
    }

    #[test]
    fn every_hangul_syllable_is_its_own_skeleton() {
        for c in '\u{ac00}'..='\u{d7a3}' {
            assert_eq!(name_skeleton(&c.to_string()), c.to_string());
        }
    }

    #[test]
    fn the_skeleton_column_is_as_wide_as_the_widest_skeleton() {
        let column = format!("name_skeleton VARCHAR({SKELETON_MAX_CHARS})");
        for migration in [
            include_str!("../../migrations/mysql/0006_user_name_skeleton.sql"),
            include_str!("../../migrations/sqlite/0006_user_name_skeleton.sql"),
        ] {
            assert!(
                migration.contains(&column),
                "{column} is not in {migration}"
            );
        }
    }

    /// Every character a valid name may hold: its skeleton is a fixed point and fits the column.
    #[test]
    fn skeletons_of_valid_characters_are_fixed_points_that_fit_the_column() {
        let mut widest = (' ', 0);
        for c in (0..=0x10ffff_u32).filter_map(char::from_u32) {
            let one = c.to_string();
            if !(c.is_alphabetic() || c.is_numeric() || c == '_' || c == '-')
                || !in_profile(c)
                || one.nfkc().collect::<String>() != one
            {
                continue;
            }
            let skeleton = name_skeleton(&one);
            if !is_hangul_syllable(c) {
                assert_eq!(
                    fold_round(&skeleton),
                    skeleton,
                    "{c:?} is not folded to a fixed point"
                );
            }
            let chars = skeleton.chars().count();
            if chars > widest.1 {
                widest = (c, chars);
            }
        }
        assert!(
            widest.1 <= SKELETON_MAX_CHARS_PER_CHAR,
            "{:?} makes {} characters",
            widest.0,
            widest.1
        );
    }
}
