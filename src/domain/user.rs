//! Users, their role and their states.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::UserId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Admin,
    User,
}

impl Role {
    /// The `role.name` value in the database.
    pub fn as_db_name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    pub fn from_db_name(name: &str) -> Option<Self> {
        match name {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

/// The seeded rows of `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserStateKind {
    Blocked,
    Inactive,
}

impl UserStateKind {
    pub fn as_db_name(self) -> &'static str {
        match self {
            UserStateKind::Blocked => "blocked",
            UserStateKind::Inactive => "inactive",
        }
    }

    pub fn from_db_name(name: &str) -> Option<Self> {
        match name {
            "blocked" => Some(UserStateKind::Blocked),
            "inactive" => Some(UserStateKind::Inactive),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserState {
    pub kind: UserStateKind,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the state ends by itself (a block with an end); `None`: until it is removed. Kept with the
    /// cached user, so every reader compares it with its own clock and an expiry needs no write.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

impl UserState {
    /// Whether the state still holds at `now`.
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

/// A user as every reader sees it. The password hash is deliberately not part of it, so it is never cached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    /// `None` after resigning.
    pub name: Option<String>,
    /// `None` after resigning. Stored lower-case.
    pub email: Option<String>,
    pub role: Role,
    pub states: Vec<UserState>,
    pub created_at: DateTime<Utc>,
}

impl User {
    /// Whether the user is in this state at `now` (a state whose end has passed no longer holds).
    pub fn has_state_at(&self, kind: UserStateKind, now: DateTime<Utc>) -> bool {
        self.states
            .iter()
            .any(|s| s.kind == kind && s.in_force(now))
    }

    pub fn has_state(&self, kind: UserStateKind) -> bool {
        self.has_state_at(kind, Utc::now())
    }

    pub fn is_blocked(&self) -> bool {
        self.has_state(UserStateKind::Blocked)
    }

    /// The states that hold at `now`.
    pub fn states_at(&self, now: DateTime<Utc>) -> impl Iterator<Item = &UserState> {
        self.states.iter().filter(move |s| s.in_force(now))
    }

    /// Resigned users keep their row (their content stays) but may no longer act.
    pub fn is_resigned(&self) -> bool {
        self.name.is_none()
    }

    /// Whether a token issued to this user may still be honoured.
    pub fn may_act(&self) -> bool {
        !self.is_blocked() && !self.is_resigned() && !self.has_state(UserStateKind::Inactive)
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// One successful login (`logged_in` row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginEvent {
    pub id: i64,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: UserId(1),
            name: Some("kim".into()),
            email: Some("kim@example.com".into()),
            role: Role::User,
            states: vec![],
            created_at: Utc::now(),
        }
    }

    #[test]
    fn an_ordinary_user_may_act() {
        assert!(user().may_act());
    }

    #[test]
    fn blocked_resigned_and_inactive_users_may_not_act() {
        let mut blocked = user();
        blocked.states.push(UserState {
            kind: UserStateKind::Blocked,
            detail: Some("spam".into()),
            created_at: Utc::now(),
            until: None,
        });
        assert!(!blocked.may_act());

        let mut resigned = user();
        resigned.name = None;
        assert!(!resigned.may_act());

        let mut inactive = user();
        inactive.states.push(UserState {
            kind: UserStateKind::Inactive,
            detail: None,
            created_at: Utc::now(),
            until: None,
        });
        assert!(!inactive.may_act());
    }

    #[test]
    fn a_block_with_an_end_holds_until_then_and_no_longer() {
        let now = Utc::now();
        let mut blocked = user();
        blocked.states.push(UserState {
            kind: UserStateKind::Blocked,
            detail: None,
            created_at: now,
            until: Some(now + chrono::Duration::seconds(60)),
        });
        assert!(blocked.has_state_at(UserStateKind::Blocked, now));
        assert!(blocked.has_state_at(UserStateKind::Blocked, now + chrono::Duration::seconds(59)));
        assert!(!blocked.has_state_at(UserStateKind::Blocked, now + chrono::Duration::seconds(60)));
        assert_eq!(
            blocked
                .states_at(now + chrono::Duration::seconds(61))
                .count(),
            0
        );
    }

    #[test]
    fn a_cached_state_without_an_end_reads_back_as_one_without_an_end() {
        let json = r#"{"kind":"Blocked","detail":null,"created_at":"2026-01-01T00:00:00Z"}"#;
        let state: UserState = serde_json::from_str(json).unwrap();
        assert_eq!(state.until, None);
    }

    #[test]
    fn role_names_round_trip() {
        for role in [Role::Admin, Role::User] {
            assert_eq!(Role::from_db_name(role.as_db_name()), Some(role));
        }
        assert_eq!(Role::from_db_name("root"), None);
    }
}
