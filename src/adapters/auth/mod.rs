//! Credentials: JWT access tokens, their signing key, and bcrypt password hashes.

mod jwt;
mod password;
mod signing_key;

pub use jwt::JwtTokens;
pub use password::BcryptHasher;
pub use signing_key::{SecretSource, SigningKeyError, resolve_signing_key};
