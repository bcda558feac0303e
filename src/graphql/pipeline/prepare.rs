//! Before anything runs: the limits every operation text passes (tokens and nesting before parsing it,
//! expanded fields, aliases, depth and introspection depth after), the parse cache, and which operation of
//! the document a request selects.

use std::sync::Arc;

use async_graphql::Request;
use async_graphql::parser::types::{ExecutableDocument, OperationType};

use super::Refusal;
use super::documents::Documents;
use super::persisted::Source;
use crate::graphql::limits;

/// The limits a document must stay within (configurable; see `Config`).
#[derive(Debug, Clone)]
pub struct TextLimits {
    pub max_tokens: usize,
    pub max_aliases: usize,
    /// Deepest nesting of schema fields (introspection is bounded on its own).
    pub max_depth: usize,
}

/// What one request of a (possibly one-element) batch became before execution.
pub(super) struct Prepared {
    pub name: Option<String>,
    /// `query`, `mutation`, `subscription`, or `unknown` when the document does not parse or names no such
    /// operation.
    pub ty: &'static str,
    /// The parsed document (`None`: it does not parse; the engine reports that).
    pub document: Option<Arc<ExecutableDocument>>,
    /// A refusal before any database or cache work.
    pub refusal: Option<Refusal>,
    /// How the request named its text.
    pub source: Source,
}

impl Prepared {
    /// A request refused before its text was looked at.
    pub fn refused(request: &Request, refusal: Refusal) -> Self {
        Self {
            name: request.operation_name.clone(),
            ty: "unknown",
            document: None,
            refusal: Some(refusal),
            source: Source::Text,
        }
    }

    /// Whether it runs (it was not refused) and is not a query: a mutation, a subscription, or an operation
    /// the document does not name.
    pub fn runs_other_than_a_query(&self) -> bool {
        self.refusal.is_none() && self.ty != "query"
    }
}

/// Checks `request` and parses its text (once per text: the parse cache remembers documents that passed
/// every limit). The document is handed to the request only if it runs ([`hand_documents`]): an answer
/// kept whole never needs it.
pub(super) fn prepare(
    request: &Request,
    source: Source,
    limits: &TextLimits,
    documents: &Documents,
) -> Prepared {
    let document = match documents.get(&request.query) {
        Some(known) => known,
        None => match check_and_parse(&request.query, limits) {
            Ok(Ok(document)) => {
                let document = Arc::new(document);
                documents.insert(&request.query, &document);
                document
            }
            Ok(Err(_)) => {
                return Prepared {
                    name: request.operation_name.clone(),
                    ty: "unknown",
                    document: None,
                    refusal: None,
                    source,
                };
            }
            Err(refusal) => {
                return Prepared {
                    name: request.operation_name.clone(),
                    ty: "unknown",
                    document: None,
                    refusal: Some(refusal),
                    source,
                };
            }
        },
    };
    // Without an operation name only a document of one operation selects one (the engine refuses the
    // others); picking "the first" of several would depend on the order of a hash map.
    let only_one = document.operations.iter().nth(1).is_none();
    let selected = document
        .operations
        .iter()
        .find(|(name, _)| match (&request.operation_name, name) {
            (Some(wanted), Some(name)) => wanted == name.as_str(),
            (None, _) => only_one,
            (Some(_), None) => false,
        })
        .map(|(name, op)| {
            let ty = match op.node.ty {
                OperationType::Query => "query",
                OperationType::Mutation => "mutation",
                OperationType::Subscription => "subscription",
            };
            (name.map(|n| n.to_string()), ty)
        });
    match selected {
        Some((name, ty)) => Prepared {
            name: request.operation_name.clone().or(name),
            ty,
            document: Some(document),
            refusal: None,
            source,
        },
        None => Prepared {
            name: request.operation_name.clone(),
            ty: "unknown",
            document: Some(document),
            refusal: None,
            source,
        },
    }
}

/// `query` checked against the limits and parsed, from the parse cache when it was seen before. A text that
/// does not parse is refused `BAD_USER_INPUT` with the parser's message.
/// Hands each request that runs its parsed document (`runnable` are the prepared requests that were not
/// refused, in order), so the engine does not parse the text again.
pub(super) fn hand_documents(runnable: &mut [Request], prepared: &[Prepared]) {
    let running = prepared.iter().filter(|p| p.refusal.is_none());
    for (request, p) in runnable.iter_mut().zip(running) {
        if let Some(document) = &p.document {
            request.set_parsed_query((**document).clone());
        }
    }
}

pub(super) fn check_cached(
    query: &str,
    limits: &TextLimits,
    documents: &Documents,
) -> Result<Arc<ExecutableDocument>, Refusal> {
    if let Some(known) = documents.get(query) {
        return Ok(known);
    }
    match check_and_parse(query, limits)? {
        Ok(document) => {
            let document = Arc::new(document);
            documents.insert(query, &document);
            Ok(document)
        }
        Err(err) => Err(Refusal::new("BAD_USER_INPUT", err.to_string())),
    }
}

/// Checks a new text against the limits (tokens and nesting before parsing it, expanded fields and
/// aliases after) and parses it. `Ok(Err(_))`: it does not parse.
fn check_and_parse(
    query: &str,
    limits: &TextLimits,
) -> Result<Result<ExecutableDocument, async_graphql::parser::Error>, Refusal> {
    let too_complex = |message: String| Refusal::new("QUERY_TOO_COMPLEX", message);
    let (tokens, nesting) = limits::scan(query, limits.max_tokens);
    if tokens > limits.max_tokens {
        return Err(too_complex(format!(
            "the document has more than {} tokens",
            limits.max_tokens
        )));
    }
    if nesting > limits::MAX_NESTING {
        return Err(too_complex(format!(
            "the document nests deeper than {} levels",
            limits::MAX_NESTING
        )));
    }
    let document = match async_graphql::parser::parse_query(query) {
        Ok(document) => document,
        Err(err) => return Ok(Err(err)),
    };
    if limits::expanded_fields(&document) > limits::MAX_EXPANDED_FIELDS {
        return Err(too_complex(format!(
            "the document selects more than {} fields once its fragments are expanded",
            limits::MAX_EXPANDED_FIELDS
        )));
    }
    let aliases = limits::count_aliases(&document);
    if aliases > limits.max_aliases {
        return Err(too_complex(format!(
            "the document has {aliases} aliases; at most {} are allowed",
            limits.max_aliases
        )));
    }
    let depth = limits::depth(&document);
    if depth.introspection_too_deep {
        return Err(too_complex(format!(
            "introspection nests `fields`, `interfaces`, `possibleTypes` or `inputFields` {} deep; \
             fewer levels are allowed",
            limits::MAX_INTROSPECTION_LISTS
        )));
    }
    if depth.fields > limits.max_depth {
        return Err(too_complex(format!(
            "the operation nests fields {} deep; at most {} levels are allowed",
            depth.fields, limits.max_depth
        )));
    }
    Ok(Ok(document))
}
