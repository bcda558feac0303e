//! Who is asking: the user behind an `Authorization` value (`Bearer <accessToken>`). A value that does not
//! verify, or names a user who may no longer act (blocked, resigned), is refused rather than served as
//! anonymous — over HTTP and WebSocket alike.

use async_graphql::dataloader::{DataLoader, HashMapCache};

use crate::app::AccountService;
use crate::domain::{AppError, User, UserId};
use crate::graphql::loaders::UserLoader;

/// The `Authorization` credentials a transport received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// None were sent: anonymous.
    Absent,
    /// The value as sent, e.g. `Bearer eyJ…`.
    Value(String),
    /// A value that is not text (not visible ASCII): refused.
    Unreadable,
}

impl Authorization {
    /// `None` → [`Authorization::Absent`].
    pub fn from_value(value: Option<&str>) -> Self {
        value.map_or(Self::Absent, |v| Self::Value(v.to_owned()))
    }
}

fn invalid() -> AppError {
    AppError::Unauthenticated("the access token is invalid or expired".into())
}

/// The user id the credentials name, after verifying the token; `None` for anonymous.
pub(super) fn verify(
    accounts: &AccountService,
    credentials: &Authorization,
) -> Result<Option<UserId>, AppError> {
    let value = match credentials {
        Authorization::Absent => return Ok(None),
        Authorization::Unreadable => return Err(invalid()),
        Authorization::Value(value) => value,
    };
    let Some(token) = bearer_token(value) else {
        return Err(AppError::Unauthenticated(
            "use `Authorization: Bearer <accessToken>`".into(),
        ));
    };
    accounts.verify_access_token(token).map(Some)
}

/// The token of an `Authorization` value of the `Bearer` scheme (named in any case), whatever transport
/// carried it; `None` for another scheme. An empty token is the verifier's to refuse.
pub fn bearer_token(value: &str) -> Option<&str> {
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(token.trim()),
        _ => None,
    }
}

/// Whether the user a verified token names may act.
pub(super) fn admit(user: Option<User>) -> Result<User, AppError> {
    match user {
        Some(user) if user.may_act() => Ok(user),
        Some(user) if user.is_blocked() => {
            Err(AppError::Unauthenticated("this account is blocked".into()))
        }
        _ => Err(invalid()),
    }
}

/// The request's user, loaded through its user loader (so resolvers asking for the same user later do not
/// read it again).
pub(super) async fn authenticate(
    accounts: &AccountService,
    credentials: &Authorization,
    users: &DataLoader<UserLoader, HashMapCache>,
) -> Result<Option<User>, AppError> {
    let Some(user_id) = verify(accounts, credentials)? else {
        return Ok(None);
    };
    admit(users.load_one(user_id).await?).map(Some)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_named_in_any_case_and_its_token_trimmed() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  xyz "), Some("xyz"));
        assert_eq!(bearer_token("Bearer "), Some(""));
        assert_eq!(bearer_token("Basic xyz"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
