//! Inputs that passed the rules of `validation`, `names` and `board`: parsed once where they enter (the
//! GraphQL mutations), so the services take values that cannot be invalid.

use std::fmt;

use super::errors::AppResult;
use super::{board, names, validation};

/// A user name by [`names::user_name`]: NFC-normalised letters, digits, `_` and `-`, scripts mixed only as
/// Korean, Japanese or Chinese writing mixes them with Latin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    /// `raw` as a user name; a violation names `field`.
    pub fn parse(field: &str, raw: &str) -> AppResult<Self> {
        names::user_name(field, raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key that makes names unique ignoring case.
    pub fn key(&self) -> String {
        names::name_key(&self.0)
    }

    /// The key that makes names unique ignoring look-alikes.
    pub fn skeleton(&self) -> String {
        names::name_skeleton(&self.0)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// An email address by [`validation::email`]: NFC-normalised and lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// `raw` as an email address; a violation names `field`.
    pub fn parse(field: &str, raw: &str) -> AppResult<Self> {
        validation::email(field, raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A password that may be set by [`validation::new_password`] (8–72 bytes, no NUL). `Debug` shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    /// `raw` as a new password; a violation names `field`.
    pub fn parse(field: &str, raw: &str) -> AppResult<Self> {
        validation::new_password(field, raw)?;
        Ok(Self(raw.to_owned()))
    }

    /// The password itself: only for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Board texts checked by the rule of `board` named beside each; a violation names the rule's field.
macro_rules! board_text {
    ($(#[$doc:meta] $name:ident by $rule:path;)*) => {$(
        #[$doc]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> AppResult<Self> {
                $rule(raw).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

board_text! {
    /// A post title: 1–200 characters, trimmed (`title`).
    PostTitle by board::post_title;
    /// A post's Markdown: up to 40 000 characters, not blank (`content`).
    PostContent by board::post_content;
    /// A comment's Markdown: not blank, within the comment limit (`content`).
    CommentContent by board::comment_content;
    /// A category name: 1–50 characters, trimmed (`name`).
    CategoryName by board::category_name;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::errors::field_of;

    #[test]
    fn board_texts_keep_what_their_rule_makes_of_them() {
        assert_eq!(
            PostTitle::parse("  첫 글 kim  ").unwrap().as_str(),
            "첫 글 kim"
        );
        assert_eq!(field_of(PostTitle::parse("   ").unwrap_err()), "title");
        assert_eq!(
            field_of(CommentContent::parse(" \n ").unwrap_err()),
            "content"
        );
        assert_eq!(CategoryName::parse("잡담").unwrap().to_string(), "잡담");
        assert!(PostContent::parse("철수kim 씀").is_ok());
    }

    #[test]
    fn names_are_normalised_once_and_keyed_without_case() {
        let name = UserName::parse("name", "Cafe\u{301}").unwrap();
        assert_eq!(name.as_str(), "Café");
        assert_eq!(name.key(), "café");
        assert_eq!(
            name.skeleton(),
            UserName::parse("name", "CAFÉ").unwrap().skeleton()
        );
        assert_eq!(field_of(UserName::parse("name", "a").unwrap_err()), "name");
    }

    #[test]
    fn emails_are_lower_case_and_violations_name_their_field() {
        assert_eq!(
            Email::parse("email", "Ann@Example.COM").unwrap().as_str(),
            "ann@example.com"
        );
        assert_eq!(
            field_of(Email::parse("email", "nope").unwrap_err()),
            "email"
        );
    }

    #[test]
    fn new_passwords_are_bounded_and_never_shown() {
        let password = NewPassword::parse("newPassword", "correct horse").unwrap();
        assert_eq!(password.expose(), "correct horse");
        assert_eq!(format!("{password:?}"), "***");
        assert_eq!(
            field_of(NewPassword::parse("newPassword", "short").unwrap_err()),
            "newPassword"
        );
    }
}
