//! Event fan-out adapters: Redis pub/sub (shared by replicas) and an in-process broadcast (embedded).

mod memory;
mod redis;

pub use memory::MemoryEvents;
pub use redis::RedisEvents;

/// Notices buffered per receiver; one that falls further behind misses the oldest (and says so).
pub const EVENT_BACKLOG: usize = 4096;
