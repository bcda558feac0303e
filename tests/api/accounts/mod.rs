//! Accounts: sign-up, login, tokens and sessions, profiles, names, password hashes, admin actions.

mod command_line;
mod legacy_names;
mod lifecycle;
mod names;
mod passwords;
mod profile;
mod sessions;
mod states;
