//! Credentials: JWT access tokens and bcrypt password hashes.

mod jwt;
mod password;

pub use jwt::JwtTokens;
pub use password::BcryptHasher;
