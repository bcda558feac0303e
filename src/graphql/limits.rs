//! Document limits checked before execution: lexical tokens and bracket nesting (before parsing: the parser
//! recurses once per nested value, so a deeply nested argument would overflow its stack), then aliases and
//! the size of the document with every fragment spread expanded (a "fragment bomb" doubles with each level
//! and would keep the engine's own validation busy for minutes), then the depth of fields. The cost of
//! an operation (`max_complexity`) is the cost extension's (docs/cost.md); directives per field are the
//! engine's limit.
//!
//! Depth counts the fields of the schema only: an introspection subtree (`__schema`, `__type`) is bounded on
//! its own, as graphql-js's `MaxIntrospectionDepthRule` does, so the standard introspection queries (which
//! nest 13–15 fields through `ofType`) run at the default depth while `fields { type { fields { … } } }`
//! loops stay refused.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// The deepest nesting of `{`, `[` and `(` a document may have (a selection 12 deep with nested input
/// objects stays far below it; the parser's own stack is the limit it protects).
pub const MAX_NESTING: usize = 64;

/// The most fields a document may select once every fragment spread is expanded.
pub const MAX_EXPANDED_FIELDS: usize = 20_000;

/// One pass over a document (strings and comments excluded): (lexical tokens, deepest nesting of `{`, `[`
/// and `(`), stopping once `limit` tokens are passed.
pub fn scan(source: &str, limit: usize) -> (usize, usize) {
    let bytes = source.as_bytes();
    let (mut i, mut tokens) = (0, 0);
    let (mut depth, mut deepest) = (0_usize, 0_usize);
    while i < bytes.len() && tokens <= limit {
        let b = bytes[i];
        match b {
            b'{' | b'[' | b'(' => {
                tokens += 1;
                depth += 1;
                deepest = deepest.max(depth);
                i += 1;
            }
            b'}' | b']' | b')' => {
                tokens += 1;
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            0xEF if bytes.get(i + 1) == Some(&0xBB) && bytes.get(i + 2) == Some(&0xBF) => i += 3,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' => {
                tokens += 1;
                if bytes[i..].starts_with(b"\"\"\"") {
                    i += 3;
                    while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                        i += if bytes[i..].starts_with(b"\\\"\"\"") {
                            4
                        } else {
                            1
                        };
                    }
                    i += 3;
                } else {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
            }
            b'.' if bytes[i..].starts_with(b"...") => {
                tokens += 1;
                i += 3;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' => {
                tokens += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'_' | b'.' | b'+' | b'-'))
                {
                    i += 1;
                }
            }
            _ => {
                tokens += 1;
                i += 1;
            }
        }
    }
    (tokens, deepest)
}

fn aliases_in(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + aliases_in(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => aliases_in(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Aliases written in the document (operations and fragment definitions).
pub fn count_aliases(document: &ExecutableDocument) -> usize {
    let in_operations: usize = document
        .operations
        .iter()
        .map(|(_, op)| aliases_in(&op.node.selection_set.node))
        .sum();
    let in_fragments: usize = document
        .fragments
        .values()
        .map(|f| aliases_in(&f.node.selection_set.node))
        .sum();
    in_operations + in_fragments
}

/// Fields selected once every fragment spread is expanded (saturating; fragment cycles count as empty —
/// validation rejects them).
pub fn expanded_fields(document: &ExecutableDocument) -> usize {
    fn size(
        set: &SelectionSet,
        document: &ExecutableDocument,
        memo: &mut HashMap<String, usize>,
        visiting: &mut Vec<String>,
    ) -> usize {
        set.items.iter().fold(0_usize, |total, item| {
            let n = match &item.node {
                Selection::Field(field) => 1_usize.saturating_add(size(
                    &field.node.selection_set.node,
                    document,
                    memo,
                    visiting,
                )),
                Selection::InlineFragment(fragment) => {
                    size(&fragment.node.selection_set.node, document, memo, visiting)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.to_string();
                    if let Some(n) = memo.get(&name) {
                        *n
                    } else if visiting.contains(&name) {
                        0
                    } else if let Some(definition) = document
                        .fragments
                        .get(spread.node.fragment_name.node.as_str())
                    {
                        visiting.push(name.clone());
                        let n = size(
                            &definition.node.selection_set.node,
                            document,
                            memo,
                            visiting,
                        );
                        visiting.pop();
                        memo.insert(name, n);
                        n
                    } else {
                        0
                    }
                }
            };
            total.saturating_add(n)
        })
    }
    let mut memo = HashMap::new();
    document
        .operations
        .iter()
        .map(|(_, op)| {
            size(
                &op.node.selection_set.node,
                document,
                &mut memo,
                &mut Vec::new(),
            )
        })
        .fold(0, usize::saturating_add)
}

/// How often `fields`, `interfaces`, `possibleTypes` and `inputFields` may nest inside one introspection
/// field (graphql-js: `MAX_LISTS_DEPTH`); reaching it refuses the document.
pub const MAX_INTROSPECTION_LISTS: usize = 3;

/// What [`depth`] measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depth {
    /// The deepest nesting of schema fields (a leaf at the root is 1), introspection subtrees excluded.
    pub fields: usize,
    /// Whether an introspection subtree nests its list fields [`MAX_INTROSPECTION_LISTS`] deep.
    pub introspection_too_deep: bool,
}

/// Depth of every operation of `document`, fragments expanded. Call it after [`expanded_fields`] has bounded
/// the expanded size: it walks the expansion (fragment cycles stop, validation rejects them).
pub fn depth(document: &ExecutableDocument) -> Depth {
    struct Walk<'a> {
        document: &'a ExecutableDocument,
        visiting: Vec<&'a str>,
        result: Depth,
    }
    impl<'a> Walk<'a> {
        /// `depth`: fields above this set; `lists`: `Some(n)` inside an introspection field.
        fn set(&mut self, set: &'a SelectionSet, depth: usize, lists: Option<usize>) {
            for item in &set.items {
                match &item.node {
                    Selection::Field(field) => {
                        let name = field.node.name.node.as_str();
                        let lists = match (lists, name) {
                            (None, "__schema" | "__type") => Some(0),
                            (
                                Some(n),
                                "fields" | "interfaces" | "possibleTypes" | "inputFields",
                            ) => Some(n + 1),
                            (other, _) => other,
                        };
                        match lists {
                            Some(n) if n >= MAX_INTROSPECTION_LISTS => {
                                self.result.introspection_too_deep = true;
                                return;
                            }
                            Some(_) => {}
                            None => self.result.fields = self.result.fields.max(depth + 1),
                        }
                        self.set(&field.node.selection_set.node, depth + 1, lists);
                    }
                    Selection::InlineFragment(fragment) => {
                        self.set(&fragment.node.selection_set.node, depth, lists);
                    }
                    Selection::FragmentSpread(spread) => {
                        let name = spread.node.fragment_name.node.as_str();
                        if self.visiting.contains(&name) {
                            continue;
                        }
                        if let Some(definition) = self.document.fragments.get(name) {
                            self.visiting.push(name);
                            self.set(&definition.node.selection_set.node, depth, lists);
                            self.visiting.pop();
                        }
                    }
                }
            }
        }
    }
    let mut walk = Walk {
        document,
        visiting: Vec::new(),
        result: Depth {
            fields: 0,
            introspection_too_deep: false,
        },
    };
    for (_, operation) in document.operations.iter() {
        walk.set(&operation.node.selection_set.node, 0, None);
    }
    walk.result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_counted_like_the_lexer() {
        assert_eq!(scan("{ viewer { id } }", 100).0, 6);
        assert_eq!(
            scan(
                "query Q($a: Int = -1) { x(a: $a, s: \"a b, c\") # comment\n }",
                100
            )
            .0,
            22
        );
        assert_eq!(scan("{ a ... on B { c } }", 100).0, 9);
        assert!(scan(&"{ a ".repeat(10_000), 5000).0 > 5000);
    }

    #[test]
    fn nesting_and_fragment_bombs_are_measured() {
        assert_eq!(scan("{ a(x: [[1]]) { b } }", 100).1, 4);
        assert_eq!(scan("{ a(s: \"[[[[\") }", 100).1, 2);
        let mut bomb = String::from("query { ...F24 } fragment F0 on Query { viewer { id } }");
        for n in 1..=24 {
            bomb.push_str(&format!(
                " fragment F{n} on Query {{ ...F{m} __typename ...F{m} }}",
                m = n - 1
            ));
        }
        let doc = async_graphql::parser::parse_query(&bomb).unwrap();
        assert!(expanded_fields(&doc) > MAX_EXPANDED_FIELDS);
        let small =
            async_graphql::parser::parse_query("{ ...A } fragment A on Query { viewer { id } }")
                .unwrap();
        assert_eq!(expanded_fields(&small), 2);
        let cycle =
            async_graphql::parser::parse_query("{ ...A } fragment A on Query { ...A }").unwrap();
        assert_eq!(expanded_fields(&cycle), 0);
    }

    #[test]
    fn aliases_are_counted_everywhere() {
        let doc = async_graphql::parser::parse_query(
            "{ a: viewer { b: id } ... on Query { c: viewer { id } } ...F } fragment F on Query { d: viewer { id } }",
        )
        .unwrap();
        assert_eq!(count_aliases(&doc), 4);
    }

    #[test]
    fn depth_counts_schema_fields_and_bounds_introspection_on_its_own() {
        let measure = |q: &str| depth(&async_graphql::parser::parse_query(q).unwrap());
        assert_eq!(measure("{ viewer { id } }").fields, 2);
        assert_eq!(
            measure("{ ...F } fragment F on Query { posts { edges { node { id } } } }").fields,
            4
        );
        let intro = measure(
            "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } }",
        );
        assert_eq!(intro.fields, 0);
        assert!(!intro.introspection_too_deep);
        let looped = measure(
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
        );
        assert!(looped.introspection_too_deep);
        let through_fragments = measure(
            "{ __type(name: \"Query\") { ...T } } fragment T on __Type { interfaces { possibleTypes { inputFields { name } } } }",
        );
        assert!(through_fragments.introspection_too_deep);
        let two = measure("{ __type(name: \"Query\") { fields { type { fields { name } } } } }");
        assert!(!two.introspection_too_deep);
    }
}
