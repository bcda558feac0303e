//! Per-request DataLoaders: everything read by id within one request is batched (one call per loader per
//! tick) and remembered for the rest of the request. Batches run in spawned tasks, so each loader carries
//! the request's round-trip counters into them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use crate::app::AccountService;
use crate::domain::{AppError, User, UserId};
use crate::telemetry::roundtrips::{self, RoundTrips};

pub struct UserLoader {
    accounts: Arc<AccountService>,
    trips: Option<Arc<RoundTrips>>,
}

impl Loader<UserId> for UserLoader {
    type Value = User;
    type Error = AppError;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, User>, AppError> {
        let work = self.accounts.users_by_ids(keys);
        match &self.trips {
            Some(trips) => roundtrips::scope(Arc::clone(trips), work).await,
            None => work.await,
        }
    }
}

pub struct Loaders {
    pub users: DataLoader<UserLoader, HashMapCache>,
}

impl Loaders {
    /// Fresh loaders for one request; call inside the request's round-trip scope.
    pub fn new(accounts: Arc<AccountService>) -> Self {
        let trips = roundtrips::current();
        Self {
            users: DataLoader::with_cache(
                UserLoader { accounts, trips },
                tokio::spawn,
                HashMapCache::default(),
            )
            .delay(Duration::ZERO),
        }
    }
}
