//! Input rules of API.md (user names are in `names`). Each violation names the input field it concerns.

use unicode_normalization::UnicodeNormalization;

use super::errors::{AppError, AppResult};

pub const PASSWORD_MIN_BYTES: usize = 8;
/// bcrypt ignores everything past 72 bytes; longer passwords are refused rather than silently truncated.
pub const PASSWORD_MAX_BYTES: usize = 72;
pub const EMAIL_MAX_BYTES: usize = 254;

/// The form an email is stored and looked up in: NFC-normalised, then lower-case, so one address typed with
/// composed or decomposed accents is one address.
pub fn email_key(raw: &str) -> String {
    raw.nfc().collect::<String>().to_lowercase()
}

/// Unicode's format characters (category Cf) that can appear in an address typed or pasted by a person.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{ad}' | '\u{61c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}' | '\u{e0000}'..='\u{e007f}')
}

/// An email address, returned NFC-normalised and lower-case.
pub fn email(field: &str, raw: &str) -> AppResult<String> {
    let email = email_key(raw);
    let invalid = |why: &str| {
        Err(AppError::invalid(
            field,
            format!("is not a valid email address: {why}"),
        ))
    };
    if email.len() > EMAIL_MAX_BYTES {
        return invalid("too long");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("contains whitespace");
    }
    // Invisible format characters (zero-width joiners, direction overrides, soft hyphens…) and
    // compatibility forms (full-width letters) would make one address look like another.
    if email.chars().any(is_invisible_format) || email.nfkc().collect::<String>() != email {
        return invalid("contains invisible or compatibility characters");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return invalid("missing '@'");
    };
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return invalid("bad local part");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return invalid("bad local part");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return invalid("the domain needs a dot");
    }
    for label in labels {
        if label.is_empty()
            || label.len() > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label.chars().all(|c| c.is_alphanumeric() || c == '-')
        {
            return invalid("bad domain");
        }
    }
    Ok(email)
}

/// A new password: 8–72 bytes.
pub fn new_password(field: &str, raw: &str) -> AppResult<()> {
    let len = raw.len();
    if len < PASSWORD_MIN_BYTES {
        return Err(AppError::invalid(
            field,
            format!("must be at least {PASSWORD_MIN_BYTES} bytes"),
        ));
    }
    if len > PASSWORD_MAX_BYTES {
        return Err(AppError::invalid(
            field,
            format!("must be at most {PASSWORD_MAX_BYTES} bytes (it is {len})"),
        ));
    }
    if raw.contains('\0') {
        return Err(AppError::invalid(field, "must not contain NUL"));
    }
    Ok(())
}

/// Free text with a length bound in characters, counted after trimming when `trim` is set.
pub fn text(field: &str, raw: &str, min: usize, max: usize, trim: bool) -> AppResult<String> {
    let value = if trim { raw.trim() } else { raw };
    let chars = value.chars().count();
    if chars < min || chars > max {
        return Err(AppError::invalid(
            field,
            format!("must be {min}–{max} characters long (it is {chars})"),
        ));
    }
    if value.contains('\0') {
        return Err(AppError::invalid(field, "must not contain NUL"));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::errors::field_of;

    #[test]
    fn emails_refuse_invisible_and_compatibility_characters() {
        for raw in [
            "a\u{200d}b@example.com",
            "\u{202e}ab@example.com",
            "\u{ff41}b@example.com",
            "a\u{ad}b@example.com",
        ] {
            assert!(email("email", raw).is_err(), "{raw:?} was accepted");
        }
        assert!(email("email", "ab@example.com").is_ok());
        assert!(email("email", "김@example.com").is_ok());
    }

    #[test]
    fn emails_are_nfc_normalised() {
        let composed = email("email", "jos\u{e9}@example.com").unwrap();
        let decomposed = email("email", "jose\u{301}@example.com").unwrap();
        assert_eq!(composed, decomposed);
    }

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            email("email", "Kim@Example.COM").as_deref(),
            Ok("kim@example.com")
        );
        for bad in [
            "",
            "kim",
            "kim@",
            "@example.com",
            "kim@example",
            "k m@example.com",
            "kim@@example.com",
            "kim@-x.com",
        ] {
            assert!(email("email", bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn passwords_are_bounded_in_bytes() {
        assert!(new_password("password", "1234567").is_err());
        assert!(new_password("password", "12345678").is_ok());
        assert!(new_password("password", &"a".repeat(72)).is_ok());
        assert_eq!(
            field_of(new_password("password", &"a".repeat(73)).unwrap_err()),
            "password"
        );
        // 24 Hangul syllables are 72 bytes; 25 are 75.
        assert!(new_password("password", &"가".repeat(24)).is_ok());
        assert!(new_password("password", &"가".repeat(25)).is_err());
    }

    #[test]
    fn text_counts_characters_after_trimming() {
        assert!(text("title", "   ", 1, 200, true).is_err());
        assert_eq!(text("title", "  hi ", 1, 200, true).as_deref(), Ok("hi"));
        assert!(text("title", &"가".repeat(200), 1, 200, true).is_ok());
        assert!(text("title", &"가".repeat(201), 1, 200, true).is_err());
    }
}
