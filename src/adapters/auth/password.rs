//! bcrypt on the blocking pool. Passwords longer than 72 bytes are refused by validation, never truncated.

use async_trait::async_trait;

use crate::domain::{AppError, AppResult};
use crate::ports::PasswordHasher;

pub struct BcryptHasher {
    cost: u32,
    /// A real hash of a random password: verifying against it costs what a wrong password costs.
    dummy_hash: String,
}

impl BcryptHasher {
    /// Start-up only: hashes a throwaway password once.
    pub fn new(cost: u32) -> Result<Self, bcrypt::BcryptError> {
        let dummy_hash = bcrypt::hash(uuid::Uuid::new_v4().to_string(), cost)?;
        Ok(Self { cost, dummy_hash })
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::internal(format!("password hashing task: {e}")))
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    async fn hash(&self, password: &str) -> AppResult<String> {
        let password = password.to_owned();
        let cost = self.cost;
        blocking(move || bcrypt::non_truncating_hash(password, cost))
            .await?
            .map_err(|e| AppError::internal(format!("bcrypt: {e}")))
    }

    async fn verify(&self, password: &str, hash: &str) -> AppResult<bool> {
        let password = password.to_owned();
        let hash = hash.to_owned();
        // A malformed stored hash is a server-side fault, but must not let anyone in.
        Ok(blocking(move || bcrypt::non_truncating_verify(password, &hash))
            .await?
            .unwrap_or(false))
    }

    async fn verify_dummy(&self, password: &str) {
        let password = password.to_owned();
        let hash = self.dummy_hash.clone();
        let _ = blocking(move || bcrypt::verify(password, &hash)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_long_passwords_are_not_truncated() {
        let hasher = BcryptHasher::new(4).unwrap();
        let hash = hasher.hash("correct horse").await.unwrap();
        assert!(hasher.verify("correct horse", &hash).await.unwrap());
        assert!(!hasher.verify("wrong horse", &hash).await.unwrap());
        assert!(!hasher.verify("x", "not a hash").await.unwrap());
        assert!(hasher.hash(&"a".repeat(73)).await.is_err());
    }
}
