//! The response cache: whole answers of queries (each viewer's under keys of their own), kept while nothing they were read from can have
//! changed (tagged with the near cache's generation). The generation rule and its sequence:
//! docs/read-cache.md#the-response-cache.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::app::flights::{self, Boarding, Flights, Lead};
use crate::app::near_cache::NearCache;
use crate::domain::UserId;

/// Bodies larger than this are not kept (a cache for small, hot answers).
const MAX_BODY: usize = 256 * 1024;
/// All kept bodies together stay under this.
const MAX_BYTES: u64 = 32 * 1024 * 1024;

/// What identifies an answer: everything of the request that shapes it.
pub(super) type Key = [u8; 32];

pub(super) struct ResponseCache {
    near: Arc<NearCache>,
    kept: moka::sync::Cache<Key, Arc<CachedResponse>>,
    /// Answers being built: the same request arriving meanwhile waits for the answer instead of
    /// building it again.
    building: Flights<Key, CachedResponse>,
}

/// A cached response: the body of an answer without errors (without the cost numbers of the request that
/// built it: each request that gets it adds its own), with the generation it was built at.
pub(super) struct CachedResponse {
    generation: u64,
    pub body: Vec<u8>,
    /// The points the operation costs (spent again by every request that gets the answer).
    pub cost: u64,
}

/// A cache miss ticket: what [`ResponseCache::keep`] needs to know whether the answer may be kept, and
/// the requests waiting for it (dropped unkept, they build their own).
pub(super) struct MissTicket<'a> {
    key: Key,
    generation: u64,
    waiting: Option<Lead<'a, Key, CachedResponse>>,
}

impl ResponseCache {
    /// Cached responses live at most `ttl` (the near cache's), like the values they were built from.
    pub fn new(near: Arc<NearCache>, ttl: Duration) -> Self {
        let kept = moka::sync::Cache::builder()
            .max_capacity(MAX_BYTES)
            .weigher(|_, kept: &Arc<CachedResponse>| {
                u32::try_from(kept.body.len()).unwrap_or(u32::MAX)
            })
            .time_to_live(ttl)
            .build();
        Self {
            near,
            kept,
            building: Flights::default(),
        }
    }

    /// The key of one request's text, operation name, variables, extensions (a persisted query's hash),
    /// document id, media type and viewer (`None`: anonymous).
    pub fn key(
        request: &async_graphql::Request,
        document_id: Option<&str>,
        media: u8,
        viewer: Option<UserId>,
    ) -> Key {
        let mut hash = Sha256::new();
        match viewer {
            None => hash.update([0]),
            Some(user) => {
                hash.update([1]);
                hash.update(user.0.to_le_bytes());
            }
        }
        for part in [
            request.query.as_bytes(),
            request
                .operation_name
                .as_deref()
                .unwrap_or_default()
                .as_bytes(),
            document_id.unwrap_or_default().as_bytes(),
        ] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
        let rest =
            serde_json::to_vec(&(&request.variables, &request.extensions)).unwrap_or_default();
        hash.update(rest);
        hash.update([media]);
        hash.finalize().into()
    }

    /// The kept answer of `key` if it is still current, else what is needed to keep this request's.
    pub async fn lookup(&self, key: Key) -> Result<Arc<CachedResponse>, Option<MissTicket<'_>>> {
        if !self.near.synced().await {
            // Not following the deletions right now: nothing kept can be trusted, and nothing may be kept.
            return Err(None);
        }
        let generation = self.near.generation();
        if let Some(kept) = self.kept.get(&key).filter(|k| k.generation == generation) {
            return Ok(kept);
        }
        let waiting = match self.building.board(generation, None, &[key]) {
            Boarding::Lead(lead) => Some(lead),
            Boarding::Follow(building) => {
                for answer in building {
                    if let Some(answer) = flights::wait(answer).await {
                        return Ok(answer);
                    }
                }
                // The request building it gave up (an error, an answer not to keep): build this one.
                None
            }
        };
        Err(Some(MissTicket {
            key,
            generation,
            waiting,
        }))
    }

    /// Keeps an answer built after `miss` was looked up, unless a deletion happened meanwhile or it is
    /// large. The requests that waited for it get it either way (unless large): they joined before any
    /// such deletion, and it was built after they began waiting — as current as building their own.
    pub fn keep(&self, miss: MissTicket<'_>, body: &[u8], cost: u64) {
        if body.len() > MAX_BODY {
            return;
        }
        let answer = Arc::new(CachedResponse {
            generation: miss.generation,
            body: body.to_vec(),
            cost,
        });
        if self.near.generation() == miss.generation {
            self.kept.insert(miss.key, Arc::clone(&answer));
        }
        if let Some(waiting) = miss.waiting {
            waiting.land(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::cache::MemoryCache;
    use crate::adapters::cache::fakes::FeedCache;

    const TTL: Duration = Duration::from_secs(60);

    fn responses() -> (Arc<NearCache>, ResponseCache) {
        let near = NearCache::start(TTL, 100, Arc::new(MemoryCache::new(10, 1 << 20)));
        (Arc::clone(&near), ResponseCache::new(near, TTL))
    }

    fn miss(lookup: Result<Arc<CachedResponse>, Option<MissTicket<'_>>>) -> MissTicket<'_> {
        match lookup {
            Err(Some(miss)) => miss,
            Ok(_) => panic!("a hit"),
            Err(None) => panic!("not cacheable"),
        }
    }

    #[tokio::test]
    async fn a_kept_answer_is_served_until_a_deletion_retires_it() {
        let (near, answers) = responses();
        let ticket = miss(answers.lookup([1; 32]).await);
        answers.keep(ticket, b"{\"data\":1}", 1);
        let kept = answers.lookup([1; 32]).await.ok().expect("kept");
        assert_eq!(kept.body.as_slice(), &b"{\"data\":1}"[..]);
        assert!(
            answers.lookup([2; 32]).await.is_err(),
            "another request's key"
        );
        // Any deletion, of any key, retires every kept answer.
        near.forget(&["user:5".to_owned()]);
        miss(answers.lookup([1; 32]).await);
    }

    #[tokio::test]
    async fn the_same_request_meanwhile_waits_for_the_answer_being_built() {
        let (_, answers) = responses();
        let answers = Arc::new(answers);
        let ticket = miss(answers.lookup([1; 32]).await);
        let waiting = {
            let answers = Arc::clone(&answers);
            tokio::spawn(async move {
                answers
                    .lookup([1; 32])
                    .await
                    .map(|a| a.body.clone())
                    .is_ok()
            })
        };
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        assert!(
            !waiting.is_finished(),
            "it waits rather than building its own"
        );
        answers.keep(ticket, b"{\"data\":2}", 1);
        assert!(waiting.await.unwrap(), "served the answer built meanwhile");
    }

    #[tokio::test]
    async fn an_answer_built_across_a_deletion_goes_to_those_waiting_but_is_not_kept() {
        let (near, answers) = responses();
        let answers = Arc::new(answers);
        let ticket = miss(answers.lookup([1; 32]).await);
        let waiting = {
            let answers = Arc::clone(&answers);
            tokio::spawn(async move { answers.lookup([1; 32]).await.is_ok() })
        };
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        // A deletion while it was built: the waiting request began before it, and takes the answer.
        near.forget(&["post:1".to_owned()]);
        answers.keep(ticket, b"{}", 1);
        assert!(waiting.await.unwrap(), "served the answer it waited for");
        // A later request does not get it.
        miss(answers.lookup([1; 32]).await);
    }

    #[tokio::test]
    async fn an_answer_not_kept_lets_the_waiting_requests_build_theirs() {
        let (_, answers) = responses();
        let answers = Arc::new(answers);
        let ticket = miss(answers.lookup([1; 32]).await);
        let waiting = {
            let answers = Arc::clone(&answers);
            tokio::spawn(async move { matches!(answers.lookup([1; 32]).await, Err(Some(_))) })
        };
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        // Too large to keep (or not kept at all: an error, a database read): each builds its own.
        answers.keep(ticket, &vec![b' '; MAX_BODY + 1], 1);
        assert!(waiting.await.unwrap(), "got a ticket to build its own");
    }

    #[tokio::test]
    async fn a_request_after_a_deletion_does_not_wait_for_an_answer_from_before_it() {
        let (near, answers) = responses();
        let _building = miss(answers.lookup([1; 32]).await);
        near.forget(&["post:1".to_owned()]);
        // Answered at once (a ticket of its own), not after the answer begun before the deletion.
        let lookup = tokio::time::timeout(Duration::from_secs(10), answers.lookup([1; 32])).await;
        miss(lookup.expect("waited for the answer begun before the deletion"));
    }

    #[test]
    fn each_viewer_and_anonymous_have_keys_of_their_own() {
        let request = async_graphql::Request::new("{ posts { totalCount } }");
        let key = |viewer| ResponseCache::key(&request, None, 1, viewer);
        assert_eq!(key(Some(UserId(3))), key(Some(UserId(3))));
        assert_ne!(key(Some(UserId(3))), key(Some(UserId(4))));
        assert_ne!(key(None), key(Some(UserId(0))));
    }

    #[tokio::test]
    async fn an_answer_built_while_a_deletion_happened_is_not_kept() {
        let (near, answers) = responses();
        let ticket = miss(answers.lookup([1; 32]).await);
        // The request resolves; meanwhile a write deletes a key it may have read.
        near.forget(&["post:1".to_owned()]);
        answers.keep(ticket, b"{}", 1);
        let ticket = miss(answers.lookup([1; 32]).await);
        // A request that began after the deletion keeps its answer.
        answers.keep(ticket, b"{}", 1);
        assert!(answers.lookup([1; 32]).await.is_ok());
    }

    #[tokio::test]
    async fn large_answers_and_answers_without_a_live_feed_are_not_kept() {
        let (_, answers) = responses();
        let ticket = miss(answers.lookup([1; 32]).await);
        answers.keep(ticket, &vec![b' '; MAX_BODY + 1], 1);
        miss(answers.lookup([1; 32]).await);
        // Not following the deletions: nothing is looked up, nothing may be kept.
        let shared = FeedCache::new(Duration::from_millis(1));
        let near = NearCache::start(TTL, 100, shared.clone());
        let answers = ResponseCache::new(near, TTL);
        shared.connection(false);
        for _ in 0..200 {
            if matches!(answers.lookup([1; 32]).await, Err(None)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("still looked up while the feed is down");
    }
}
