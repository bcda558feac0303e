//! The read caches: cache-aside on Redis with the near cache in front, and kept answers.

mod kept_answers;
mod near_cache;
