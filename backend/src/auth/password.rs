//! Argon2id password hashing, off the async workers and under a concurrency limit, so a
//! sign-in wave queues here instead of stalling every other request.
use std::sync::Arc;

use anyhow::anyhow;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::Semaphore;

use crate::error::ApiError;

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 128;

#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

fn argon2() -> Argon2<'static> {
    // OWASP's second recommended set: 19 MiB, two passes, one lane.
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters"),
    )
}

/// A hash of a random password nobody knows: verifying against it costs what a real check
/// costs, so an unknown login takes as long as a wrong password.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    argon2()
        .hash_password(uuid::Uuid::new_v4().as_bytes())
        .expect("hashing works")
        .to_string()
});

pub fn check_strength(password: &str) -> Result<(), &'static str> {
    match password.chars().count() {
        n if n < MIN_LENGTH => Err("password_too_short"),
        n if n > MAX_LENGTH => Err("password_too_long"),
        _ => Ok(()),
    }
}

impl Passwords {
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ApiError::Unexpected(e.into()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| ApiError::Unexpected(e.into()))
    }

    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move || {
            argon2()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
        })
        .await?
        .map_err(|e| ApiError::Unexpected(anyhow!("argon2 hash failed: {e}")))
    }

    /// `None` for the stored hash means the account does not exist: the same work is done anyway.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, ApiError> {
        self.run(move || {
            let hash = stored.as_deref().unwrap_or(DUMMY_HASH.as_str());
            argon2().verify_password(password.as_bytes(), hash).is_ok() && stored.is_some()
        })
        .await
    }
}
