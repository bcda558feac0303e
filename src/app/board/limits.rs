//! The per-user write limits of the board (see `app::rate_limit`).

use std::sync::Arc;

use super::BoardService;
use crate::app::rate_limit::Limiter;
use crate::domain::{AppResult, User};

impl BoardService {
    /// The same service with edits limited per user.
    pub fn with_limiter(self, limiter: Arc<Limiter>) -> Self {
        Self {
            limiter: Some(limiter),
            ..self
        }
    }

    /// Counts an edit by `actor`; `RATE_LIMITED` past the per-user limit.
    pub(super) async fn reserve_edit(&self, actor: &User) -> AppResult<()> {
        match &self.limiter {
            Some(limiter) => limiter.reserve_edit(actor.id, self.clock.now()).await,
            None => Ok(()),
        }
    }

    /// Counts a new post or comment by `actor`; `RATE_LIMITED` past the per-user limit.
    pub(super) async fn reserve_create(&self, actor: &User) -> AppResult<()> {
        match &self.limiter {
            Some(limiter) => limiter.reserve_create(actor.id, self.clock.now()).await,
            None => Ok(()),
        }
    }
}
