//! Persisted operations: Apollo's automatic persisted queries (texts registered by their SHA-256, kept in
//! the shared cache with a time to live) and trusted documents (a fixed manifest, the only operations that
//! run when configured).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::ports::Cache;

/// The SHA-256 of `text`, in lower-case hex (what Apollo's link and graphql-codegen send).
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Whether `hash` looks like a SHA-256 in hex.
pub fn is_sha256_hex(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Longer texts are run but not registered: a registered text stays in the cache for the whole TTL, so without
/// a bound a client could park a megabyte (the body limit, in a comment or a string) under each of thousands
/// of fresh hashes. Apollo's link then sends such a text with every request, as for any unknown hash.
pub const MAX_PERSISTED_QUERY_BYTES: usize = 32 * 1024;

/// Registered operation texts by hash, in the cache port (Redis shared by every replica, or the bounded
/// in-process cache). Never the source of truth: a miss or a cache failure makes the client send its text
/// again.
pub struct PersistedQueries {
    cache: Arc<dyn Cache>,
    prefix: String,
    ttl: Duration,
}

impl PersistedQueries {
    pub fn new(cache: Arc<dyn Cache>, cache_prefix: &str, ttl: Duration) -> Self {
        Self {
            cache,
            prefix: format!("{cache_prefix}:v1:apq:"),
            ttl,
        }
    }

    fn key(&self, hash: &str) -> String {
        format!("{}{}", self.prefix, hash.to_ascii_lowercase())
    }

    /// The text registered under `hash`; `None` when unknown, expired, or the cache failed.
    pub async fn get(&self, hash: &str) -> Option<String> {
        match self.cache.get_many(&[self.key(hash)]).await {
            Ok(mut values) => values.pop().flatten(),
            Err(err) => {
                tracing::warn!(error = %err, "could not read a persisted query");
                None
            }
        }
    }

    /// Registers `text` under `hash` (the caller checked that it is the text's hash and that the text passes
    /// the operation limits); a text longer than [`MAX_PERSISTED_QUERY_BYTES`] is not kept. A cache failure
    /// is logged only: the client sends the text again next time.
    pub async fn put(&self, hash: &str, text: &str) {
        if text.len() > MAX_PERSISTED_QUERY_BYTES {
            return;
        }
        let entry = [(self.key(hash), text.to_owned(), self.ttl)];
        if let Err(err) = self.cache.set_many(&entry).await {
            tracing::warn!(error = %err, "could not store a persisted query");
        }
    }
}

/// The trusted documents: a manifest as graphql-codegen's client preset emits it with
/// `persistedDocuments: true`, a JSON object `{ "<hash>": "<document text>" }`.
#[derive(Debug, Default)]
pub struct TrustedDocuments {
    /// By the manifest's key (the document id clients send).
    by_id: HashMap<String, Arc<str>>,
    /// By the SHA-256 of the text (what Apollo's persisted-query link sends), whatever the keys are.
    by_sha256: HashMap<String, Arc<str>>,
}

impl TrustedDocuments {
    /// Reads and checks the manifest at `path`; the error says what is wrong with it.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        Self::parse(&text).map_err(|why| format!("{}: {why}", path.display()))
    }

    /// Checks a manifest's text: a JSON object of non-empty ids to GraphQL documents that parse.
    pub fn parse(manifest: &str) -> Result<Self, String> {
        let entries: HashMap<String, serde_json::Value> = serde_json::from_str(manifest)
            .map_err(|err| format!("not a JSON object of document ids to document texts: {err}"))?;
        let mut documents = Self::default();
        for (id, text) in entries {
            let serde_json::Value::String(text) = text else {
                return Err(format!("the document of {id:?} is not a string"));
            };
            if id.trim().is_empty() {
                return Err("a document has an empty id".into());
            }
            if let Err(err) = async_graphql::parser::parse_query(&text) {
                return Err(format!("the document of {id:?} is not GraphQL: {err}"));
            }
            let text: Arc<str> = Arc::from(text);
            documents
                .by_sha256
                .insert(sha256_hex(&text), Arc::clone(&text));
            documents.by_id.insert(id.to_ascii_lowercase(), text);
        }
        Ok(documents)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The document a client's `documentId` names (`<hash>` or `sha256:<hash>`).
    pub fn by_document_id(&self, id: &str) -> Option<Arc<str>> {
        let bare = id
            .strip_prefix("sha256:")
            .unwrap_or(id)
            .to_ascii_lowercase();
        self.by_id
            .get(&bare)
            .or_else(|| self.by_sha256.get(&bare))
            .cloned()
    }

    /// The document whose text has this SHA-256.
    pub fn by_sha256(&self, hash: &str) -> Option<Arc<str>> {
        self.by_sha256.get(&hash.to_ascii_lowercase()).cloned()
    }

    /// Whether `text` is one of the documents.
    pub fn contains_text(&self, text: &str) -> bool {
        self.by_sha256.contains_key(&sha256_hex(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_is_found_by_id_prefixed_id_and_text_hash() {
        let text = "query Cats { categories { id } }";
        let hash = sha256_hex(text);
        let manifest = serde_json::json!({ "custom-id": text }).to_string();
        let trusted = TrustedDocuments::parse(&manifest).unwrap();
        assert_eq!(trusted.len(), 1);
        assert_eq!(trusted.by_document_id("custom-id").as_deref(), Some(text));
        assert_eq!(
            trusted.by_document_id(&format!("sha256:{hash}")).as_deref(),
            Some(text)
        );
        assert_eq!(
            trusted.by_sha256(&hash.to_ascii_uppercase()).as_deref(),
            Some(text)
        );
        assert!(trusted.contains_text(text));
        assert!(!trusted.contains_text("{ categories { id } }"));
        assert!(trusted.by_document_id("other").is_none());
    }

    #[test]
    fn malformed_manifests_are_refused_with_the_reason() {
        for (manifest, why) in [
            ("[]", "not a JSON object"),
            ("{\"a\": 1}", "is not a string"),
            ("{\"\": \"{ a }\"}", "empty id"),
            ("{\"a\": \"query {\"}", "is not GraphQL"),
        ] {
            let err = TrustedDocuments::parse(manifest).unwrap_err();
            assert!(err.contains(why), "{manifest}: {err}");
        }
    }

    #[test]
    fn only_sha256_hex_is_a_hash() {
        assert!(is_sha256_hex(&sha256_hex("x")));
        assert!(!is_sha256_hex("abc"));
        assert!(!is_sha256_hex(&"g".repeat(64)));
    }
}
