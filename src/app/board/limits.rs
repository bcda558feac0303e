//! The per-user write limits of the board (see `app::rate_limit`).

use super::BoardService;
use crate::domain::{AppResult, User};

impl BoardService {
    /// Counts an edit by `actor`; `RATE_LIMITED` past the per-user limit.
    pub(super) async fn reserve_edit(&self, actor: &User) -> AppResult<()> {
        self.limiter.reserve_edit(actor.id, self.clock.now()).await
    }

    /// Counts a new post or comment by `actor`; `RATE_LIMITED` past the per-user limit.
    pub(super) async fn reserve_create(&self, actor: &User) -> AppResult<()> {
        self.limiter
            .reserve_create(actor.id, self.clock.now())
            .await
    }
}
