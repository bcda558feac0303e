//! Cache adapters: Redis (shared by replicas) and an in-process cache (the embedded default).

mod memory;
mod redis;

pub use memory::MemoryCache;
pub use redis::RedisCache;

#[cfg(test)]
pub mod fakes;
