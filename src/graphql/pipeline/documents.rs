//! Parsed GraphQL documents by query text. Clients send a small, fixed set of operations (single-page apps
//! and generated SDKs alike), so most requests repeat a text seen before: it is not scanned, limit-checked
//! and parsed again (parsing was the largest single cost of a cached read). Only documents that passed every
//! limit are kept, and only texts up to [`MAX_CACHED_QUERY_BYTES`]; the cache is bounded by weight.

use std::sync::Arc;

use async_graphql::parser::types::ExecutableDocument;

/// Longer texts are parsed every time (they are rare, and would crowd the cache out).
pub const MAX_CACHED_QUERY_BYTES: usize = 16 * 1024;

/// Budget of the whole cache, counting each entry as a multiple of its text's length (the syntax tree is
/// larger than the text).
const MAX_WEIGHT: u64 = 16 * 1024 * 1024;
const TREE_PER_TEXT_BYTE: u32 = 8;

#[derive(Clone)]
pub struct Documents {
    parsed: moka::sync::Cache<Arc<str>, Arc<ExecutableDocument>>,
}

impl Documents {
    pub fn new() -> Self {
        Self {
            parsed: moka::sync::Cache::builder()
                .max_capacity(MAX_WEIGHT)
                .weigher(|text: &Arc<str>, _| {
                    u32::try_from(text.len())
                        .unwrap_or(u32::MAX)
                        .saturating_mul(TREE_PER_TEXT_BYTE)
                })
                .build(),
        }
    }

    /// The document of `query`, if it was parsed (and passed the limits) before.
    pub fn get(&self, query: &str) -> Option<Arc<ExecutableDocument>> {
        self.parsed.get(query)
    }

    /// Remembers the document of `query`, which passed every limit.
    pub fn insert(&self, query: &str, document: &Arc<ExecutableDocument>) {
        if query.len() <= MAX_CACHED_QUERY_BYTES {
            self.parsed.insert(Arc::from(query), Arc::clone(document));
        }
    }
}

impl Default for Documents {
    fn default() -> Self {
        Self::new()
    }
}
