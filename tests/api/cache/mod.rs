//! The read caches: cache-aside on Redis with the near cache in front, kept answers, and the members'
//! templates.

mod kept_answers;
mod near_cache;
mod templates;
