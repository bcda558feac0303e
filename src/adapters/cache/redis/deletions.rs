//! A write's deletion of cache keys and their fill guards, with its announcement: tried again through a
//! short failure, left to the replay through an outage (docs/read-cache.md#failover).

use std::time::Duration;

use fred::prelude::{ClientLike, KeysInterface, PubsubInterface};

use super::breaker::{Failure, failure};
use super::primary::Primary;
use super::{
    DELETE_RETRY_PAUSE, DELETE_TIMEOUT, GUARD_TTL_MS, RedisCache, announcements, guard_key,
    in_namespace,
};
use crate::ports::{CacheError, Deletion};

impl RedisCache {
    /// Answers the keys' fill guards, sealed with the epoch they were deleted in, when the deletion was
    /// made in the namespace verified before and after it; else none (the caller reads as usual).
    pub(super) async fn delete_as(
        &self,
        keys: &[String],
        deletion: Deletion,
    ) -> Result<Vec<u64>, CacheError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let deadline = tokio::time::Instant::now() + DELETE_TIMEOUT;
        // Even while the primary is not verified: if it is the same server, the deletion counts; if not,
        // the keys are deleted again once the new primary is verified (another process may already fill
        // its namespace), as are those of a deletion that failed.
        let before = self.primary.reading().map(|(_, epoch)| epoch);
        let mut batch = keys.to_vec();
        if before.is_some() {
            batch.extend(self.unsettled().take());
        }
        // Keys deleted again are announced as plain deletions: what changed of them is not known here.
        let deletion = if batch.len() == keys.len() {
            deletion
        } else {
            Deletion::All
        };
        let result = self.delete_persistently(&batch, deletion, deadline).await;
        let after = self.primary.reading().map(|(_, epoch)| epoch);
        if let (Ok(guards), Some(epoch)) = (&result, before)
            && after == before
        {
            let sealed = guards.iter().take(keys.len());
            return Ok(sealed.map(|guard| Primary::seal(*guard, epoch)).collect());
        }
        self.keep_unsettled(batch.clone());
        result?;
        // Made, but perhaps in a namespace no process reads any more (a new primary not verified yet): the
        // write answers once it is made again in the namespace verified next, within the same deadline.
        self.settle_by(&batch, deletion, deadline).await?;
        Ok(Vec::new())
    }

    /// Deletes `keys` again once a primary is verified, if one is before `deadline` (else the replay will).
    async fn settle_by(
        &self,
        keys: &[String],
        deletion: Deletion,
        deadline: tokio::time::Instant,
    ) -> Result<(), CacheError> {
        if !self.primary.verified_by(deadline, DELETE_TIMEOUT).await {
            return Err(CacheError(
                "no redis primary verified in time; the deletion waits for its replay".into(),
            ));
        }
        let epoch = self.primary.reading().map(|(_, epoch)| epoch);
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.delete_now(keys, deletion, left)
            .await
            .map_err(|failed| failed.error)?;
        if epoch.is_none() || self.primary.reading().map(|(_, epoch)| epoch) != epoch {
            return Err(CacheError(
                "a redis connection event during the deletion; it waits for its replay".into(),
            ));
        }
        Ok(())
    }

    /// [`RedisCache::delete_now`], tried again after a failure (a connection that broke, fred
    /// reconnecting) until `deadline` (`DELETE_TIMEOUT` after the write's deletion began), even while the
    /// breaker is open: the write answers once its deletion is made. Only once Redis has failed for longer
    /// than `DELETE_TIMEOUT` does a deletion fail at the first try, left to the replay
    /// (docs/read-cache.md#failover).
    async fn delete_persistently(
        &self,
        keys: &[String],
        deletion: Deletion,
        deadline: tokio::time::Instant,
    ) -> Result<Vec<u64>, CacheError> {
        loop {
            // An outage, unless the primary was verified since it began: Redis answers again.
            if self.breaker.failing_for().is_some_and(|failing| {
                failing > DELETE_TIMEOUT && !self.primary.verified_within(failing)
            }) {
                return Err(CacheError(
                    "redis has not answered for a while; the deletion waits for its replay".into(),
                ));
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let failed = match self.delete_now(keys, deletion, left).await {
                Ok(guards) => return Ok(guards),
                Err(failed) => failed,
            };
            // Answered with a refusal: trying again would not change it.
            if !failed.unanswered || tokio::time::Instant::now() + DELETE_RETRY_PAUSE >= deadline {
                return Err(failed.error);
            }
            tokio::time::sleep(DELETE_RETRY_PAUSE).await;
        }
    }

    /// Deletes `keys` (advancing their fill guards) in the namespace of the primary verified last, and
    /// announces them, within `timeout` (at least every command's), breaker or not; answers the guards as
    /// the deletion left them. On Redis Cluster one command per key, pipelined.
    pub(super) async fn delete_now(
        &self,
        keys: &[String],
        deletion: Deletion,
        timeout: Duration,
    ) -> Result<Vec<u64>, Failure> {
        let namespace = self.primary.deleting();
        let stored: Vec<String> = keys.iter().map(|k| in_namespace(k, &namespace)).collect();
        let timeout = self.breaker.timeout().max(timeout);
        let options = fred::types::config::Options {
            timeout: Some(timeout),
            ..Default::default()
        };
        let pipeline = fred::clients::Pipeline::from(self.pool.next().with_options(&options));
        // Guards first: a fill that read the old guard is refused from here on; one that ran before is
        // undone by the DEL.
        for key in &stored {
            let guard = guard_key(key);
            let () = pipeline.incr(guard.as_str()).await.map_err(failure)?;
            let () = pipeline
                .pexpire(guard.as_str(), GUARD_TTL_MS, None)
                .await
                .map_err(failure)?;
        }
        if self.clustered {
            for key in &stored {
                let () = pipeline.del(key.as_str()).await.map_err(failure)?;
            }
        } else {
            let () = pipeline.del(stored).await.map_err(failure)?;
        }
        // Announced by the keys the near caches know.
        let text = announcements::text(keys, deletion, &self.origin);
        let () = if self.clustered {
            pipeline.spublish(self.channel.as_str(), text).await
        } else {
            pipeline.publish(self.channel.as_str(), text).await
        }
        .map_err(failure)?;
        let replies: Vec<fred::types::Value> = self
            .breaker
            .bounded_anyway(timeout, "PIPELINE INCR PEXPIRE DEL PUBLISH", pipeline.all())
            .await?;
        // Each key's INCR, then its PEXPIRE: the guards are every other reply from the first (none if a
        // reply is not a number).
        let guards = replies.iter().step_by(2).take(keys.len());
        let guards: Option<Vec<u64>> = guards.map(|reply| reply.as_u64()).collect();
        Ok(guards.unwrap_or_default())
    }
}
