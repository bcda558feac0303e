//! Persisted operations before preparation: which text a request runs when it names its operation by hash
//! (Apollo's `extensions.persistedQuery`) or by `documentId`, registration of new texts, and — in trusted-
//! documents mode — the refusal of anything the manifest does not list.
//!
//! Codes: an unknown hash or document id answers `PERSISTED_QUERY_NOT_FOUND` with the message
//! `PersistedQueryNotFound` (Apollo's link then sends the text); a text whose hash does not match answers 400
//! `BAD_USER_INPUT`; in trusted-documents mode a text the manifest does not list answers
//! `PERSISTED_QUERY_NOT_ALLOWED`.

use std::sync::Arc;

use async_graphql::Request;

use super::Refusal;
use crate::app::persisted::{is_sha256_hex, sha256_hex};
use crate::app::{PersistedQueries, TrustedDocuments};

pub const NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
pub const NOT_ALLOWED: &str = "PERSISTED_QUERY_NOT_ALLOWED";

/// Where persisted texts come from.
pub struct Persisted {
    /// Registered by clients (automatic persisted queries).
    pub store: PersistedQueries,
    /// When set, only these documents run, and nothing is registered.
    pub trusted: Option<Arc<TrustedDocuments>>,
}

/// How a request named the text it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Source {
    /// The text itself.
    Text,
    /// A hash or document id only, resolved to a stored or listed text: an anonymous GET of it may be cached.
    Stored,
    /// The text with its matching hash: registered under the hash once the text passes the limits.
    Register(String),
}

fn not_found() -> Refusal {
    Refusal::new(NOT_FOUND, "PersistedQueryNotFound")
}

fn not_allowed() -> Refusal {
    Refusal::new(
        NOT_ALLOWED,
        "only the trusted documents of this server run; send a listed documentId or its text",
    )
}

fn bad(message: impl Into<String>) -> Refusal {
    Refusal::new("BAD_USER_INPUT", message)
}

/// `extensions.persistedQuery` of a request: its hash, or why it is refused.
fn apq_hash(request: &Request) -> Option<Result<String, Refusal>> {
    let value = request.extensions.get("persistedQuery")?;
    let json = serde_json::to_value(value).unwrap_or_default();
    let version = json.get("version").and_then(serde_json::Value::as_i64);
    if version != Some(1) {
        return Some(Err(bad(format!(
            "persistedQuery version {} is not supported; send version 1",
            json.get("version")
                .map_or("(none)".into(), |v| v.to_string())
        ))));
    }
    match json.get("sha256Hash").and_then(serde_json::Value::as_str) {
        Some(hash) if is_sha256_hex(hash) => Some(Ok(hash.to_ascii_lowercase())),
        _ => Some(Err(bad(
            "persistedQuery.sha256Hash must be the SHA-256 of the query in hex",
        ))),
    }
}

impl Persisted {
    /// Gives `request` the text it runs and says how it was named.
    pub(super) async fn resolve(
        &self,
        request: &mut Request,
        document_id: Option<&str>,
    ) -> Result<Source, Refusal> {
        if let Some(id) = document_id {
            if !request.query.is_empty() {
                return Err(bad("send either documentId or query, not both"));
            }
            let text = match &self.trusted {
                Some(trusted) => trusted.by_document_id(id).map(|t| t.to_string()),
                None => {
                    let hash = id.strip_prefix("sha256:").unwrap_or(id);
                    if is_sha256_hex(hash) {
                        self.store.get(hash).await
                    } else {
                        None
                    }
                }
            };
            request.query = text.ok_or_else(not_found)?;
            return Ok(Source::Stored);
        }
        if let Some(hash) = apq_hash(request) {
            let hash = hash?;
            if request.query.is_empty() {
                let text = match &self.trusted {
                    Some(trusted) => trusted.by_sha256(&hash).map(|t| t.to_string()),
                    None => self.store.get(&hash).await,
                };
                request.query = text.ok_or_else(not_found)?;
                return Ok(Source::Stored);
            }
            if sha256_hex(&request.query) != hash {
                return Err(Refusal::malformed(
                    "BAD_USER_INPUT",
                    "persistedQuery.sha256Hash is not the SHA-256 of the query",
                ));
            }
            return match &self.trusted {
                Some(trusted) if trusted.contains_text(&request.query) => Ok(Source::Text),
                Some(_) => Err(not_allowed()),
                None => Ok(Source::Register(hash)),
            };
        }
        match &self.trusted {
            Some(trusted) if !trusted.contains_text(&request.query) => Err(not_allowed()),
            _ => Ok(Source::Text),
        }
    }
}
