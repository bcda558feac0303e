//! bcrypt on the blocking pool.
//!
//! bcrypt keys on at most 72 bytes. Longer passwords are never hashed (validation refuses them) and never
//! verified (a 73-byte password must not match the hash of its 72-byte prefix). The `bcrypt` crate's
//! `non_truncating_*` functions count the NUL terminator it appends, so they would refuse a 72-byte password
//! whose bytes all fit; hence the explicit length check with the plain functions.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Semaphore;

use crate::domain::validation::PASSWORD_MAX_BYTES;
use crate::domain::{AppError, AppResult};
use crate::ports::PasswordHasher;

pub struct BcryptHasher {
    cost: u32,
    /// At most one bcrypt computation per core: a login flood queues here instead of starving the
    /// blocking pool and every other request's CPU.
    permits: Arc<Semaphore>,
    /// A real hash of a random password: verifying against it costs what a wrong password costs.
    dummy_hash: String,
}

impl BcryptHasher {
    /// Start-up only: hashes a throwaway password once.
    pub fn new(cost: u32) -> Result<Self, bcrypt::BcryptError> {
        let dummy_hash = bcrypt::hash(uuid::Uuid::new_v4().to_string(), cost)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            cost,
            dummy_hash,
            permits: Arc::new(Semaphore::new(cores)),
        })
    }
}

impl BcryptHasher {
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AppError::internal(format!("password hashing permits: {e}")))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| AppError::internal(format!("password hashing task: {e}")))
    }
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    async fn hash(&self, password: &str) -> AppResult<String> {
        if password.len() > PASSWORD_MAX_BYTES {
            return Err(AppError::invalid(
                "password",
                format!("must be at most {PASSWORD_MAX_BYTES} bytes"),
            ));
        }
        let password = password.to_owned();
        let cost = self.cost;
        self.blocking(move || bcrypt::hash(password, cost))
            .await?
            .map_err(|e| AppError::internal(format!("bcrypt: {e}")))
    }

    async fn verify(&self, password: &str, hash: &str) -> AppResult<bool> {
        if password.len() > PASSWORD_MAX_BYTES {
            self.verify_dummy(password).await;
            return Ok(false);
        }
        let password = password.to_owned();
        let hash = hash.to_owned();
        // A malformed stored hash is a server-side fault, but must not let anyone in.
        Ok(self
            .blocking(move || bcrypt::verify(password, &hash))
            .await?
            .unwrap_or(false))
    }

    async fn verify_dummy(&self, password: &str) {
        let password = password.to_owned();
        let hash = self.dummy_hash.clone();
        let _ = self.blocking(move || bcrypt::verify(password, &hash)).await;
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
        let longest = "b".repeat(72);
        let hash = hasher.hash(&longest).await.unwrap();
        assert!(hasher.verify(&longest, &hash).await.unwrap());
        assert!(!hasher.verify(&format!("{longest}b"), &hash).await.unwrap());
        assert!(!hasher.verify(&"b".repeat(71), &hash).await.unwrap());
    }
}
