//! Partial results as the GraphQL spec's "Handling Execution Errors" says. The engine drops a field whose
//! resolver failed from its object (and answers an object whose every field failed as `null`), so a client
//! sees neither the `null` it is owed nor the bubbling through non-null positions its generated types rely
//! on. [`OutputTypes::complete`] repairs a response after execution, driven by the operation and the schema's
//! types: every error's position becomes `null`, and the null moves up while the position is non-null, to
//! the nearest nullable field or list item, or to `data` itself.

use std::collections::HashMap;

use async_graphql::parser::types::{
    BaseType, ExecutableDocument, OperationType, Selection, SelectionSet, Type, TypeKind,
    TypeSystemDefinition,
};
use async_graphql::{PathSegment, Response, Value};

/// The output fields of every object and interface type: type name → field name → field type.
#[derive(Debug, Default)]
pub struct OutputTypes {
    fields: HashMap<String, HashMap<String, Type>>,
    query: String,
    mutation: String,
    subscription: String,
}

/// One step of an error's path, and whether a `null` may stand there.
struct Step {
    segment: PathSegment,
    nullable: bool,
    /// For a field: the response keys of its object in selection order (to keep the order on insertion).
    keys: Vec<String>,
}

impl OutputTypes {
    /// The shapes of the schema printed as `sdl` (the engine's own export).
    pub fn from_sdl(sdl: &str) -> Self {
        let mut shapes = Self {
            query: "Query".into(),
            mutation: "Mutation".into(),
            subscription: "Subscription".into(),
            ..Self::default()
        };
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
            tracing::error!(
                "the schema's SDL does not parse; partial results stay as the engine made them"
            );
            return shapes;
        };
        for definition in document.definitions {
            match definition {
                TypeSystemDefinition::Schema(schema) => {
                    let schema = schema.node;
                    if let Some(q) = schema.query {
                        shapes.query = q.node.to_string();
                    }
                    if let Some(m) = schema.mutation {
                        shapes.mutation = m.node.to_string();
                    }
                    if let Some(s) = schema.subscription {
                        shapes.subscription = s.node.to_string();
                    }
                }
                TypeSystemDefinition::Type(ty) => {
                    let ty = ty.node;
                    let fields = match ty.kind {
                        TypeKind::Object(object) => object.fields,
                        TypeKind::Interface(interface) => interface.fields,
                        _ => continue,
                    };
                    shapes.fields.insert(
                        ty.name.node.to_string(),
                        fields
                            .into_iter()
                            .map(|f| (f.node.name.node.to_string(), f.node.ty.node))
                            .collect(),
                    );
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        shapes
    }

    /// Puts `null` where each field error happened and bubbles it through non-null positions. Errors without
    /// a path (request errors) and paths that do not fit the operation are left alone.
    pub fn complete(
        &self,
        response: &mut Response,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
    ) {
        if response.errors.iter().all(|e| e.path.is_empty()) {
            return;
        }
        let Some(operation) = document
            .operations
            .iter()
            .find(|(name, _)| match (operation_name, name) {
                (Some(wanted), Some(name)) => wanted == name.as_str(),
                (None, _) => true,
                (Some(_), None) => false,
            })
            .map(|(_, op)| &op.node)
        else {
            return;
        };
        let root = match operation.ty {
            OperationType::Query => &self.query,
            OperationType::Mutation => &self.mutation,
            OperationType::Subscription => &self.subscription,
        };
        let walks: Vec<Vec<Step>> = response
            .errors
            .iter()
            .filter(|e| !e.path.is_empty())
            .filter_map(|e| self.steps(document, root, &operation.selection_set.node, &e.path))
            .collect();
        // First every error's position exists (as `null`), then the nulls bubble: a position nulled by one
        // error's bubbling is never brought back by another's.
        for steps in &walks {
            materialise(&mut response.data, steps);
        }
        for steps in &walks {
            match steps.iter().rposition(|s| s.nullable) {
                Some(at) => {
                    if let Some(slot) = existing(&mut response.data, &steps[..=at]) {
                        *slot = Value::Null;
                    }
                }
                None => response.data = Value::Null,
            }
        }
    }

    /// The path's steps with their nullability, or `None` if the path does not fit the operation.
    fn steps<'d>(
        &self,
        document: &'d ExecutableDocument,
        root: &str,
        selection: &'d SelectionSet,
        path: &[PathSegment],
    ) -> Option<Vec<Step>> {
        let mut steps = Vec::with_capacity(path.len());
        let mut sets: Vec<(&'d SelectionSet, String)> = vec![(selection, root.to_owned())];
        let mut ty: Option<Type> = None;
        for segment in path {
            match segment {
                PathSegment::Field(key) => {
                    let mut keys = Vec::new();
                    let mut found: Option<(Type, Vec<(&'d SelectionSet, String)>)> = None;
                    for (set, parent) in &sets {
                        self.collect(document, set, parent, key, &mut keys, &mut found, 0);
                    }
                    let (field_ty, next) = found?;
                    steps.push(Step {
                        segment: segment.clone(),
                        nullable: field_ty.nullable,
                        keys,
                    });
                    let named = named(&field_ty).to_owned();
                    sets = next.into_iter().map(|(s, _)| (s, named.clone())).collect();
                    ty = Some(field_ty);
                }
                PathSegment::Index(_) => {
                    let item = match ty.take()?.base {
                        BaseType::List(item) => *item,
                        BaseType::Named(_) => return None,
                    };
                    steps.push(Step {
                        segment: segment.clone(),
                        nullable: item.nullable,
                        keys: Vec::new(),
                    });
                    ty = Some(item);
                }
            }
        }
        Some(steps)
    }

    /// Collects, from `set` on the type `parent` (fragments expanded), the response keys in order, and the
    /// type and sub-selections of the fields answering under `key`.
    #[allow(clippy::too_many_arguments)]
    fn collect<'d>(
        &self,
        document: &'d ExecutableDocument,
        set: &'d SelectionSet,
        parent: &str,
        key: &str,
        keys: &mut Vec<String>,
        found: &mut Option<(Type, Vec<(&'d SelectionSet, String)>)>,
        depth: usize,
    ) {
        // Validated documents have no fragment cycles; this only bounds a broken one.
        if depth > 64 {
            return;
        }
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let response_key = field.response_key().node.as_str();
                    if !keys.iter().any(|k| k == response_key) {
                        keys.push(response_key.to_owned());
                    }
                    if response_key != key {
                        continue;
                    }
                    let declared = if field.name.node == "__typename" {
                        Type::new("String!")
                    } else {
                        self.fields
                            .get(parent)
                            .and_then(|f| f.get(field.name.node.as_str()))
                            .cloned()
                    };
                    let Some(declared) = declared else { continue };
                    let entry = found.get_or_insert_with(|| (declared, Vec::new()));
                    entry.1.push((&field.selection_set.node, parent.to_owned()));
                }
                Selection::InlineFragment(fragment) => {
                    let fragment = &fragment.node;
                    let on = fragment
                        .type_condition
                        .as_ref()
                        .map_or(parent, |c| c.node.on.node.as_str());
                    self.collect(
                        document,
                        &fragment.selection_set.node,
                        on,
                        key,
                        keys,
                        found,
                        depth + 1,
                    );
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = document
                        .fragments
                        .get(spread.node.fragment_name.node.as_str())
                    {
                        let on = fragment.node.type_condition.node.on.node.as_str();
                        self.collect(
                            document,
                            &fragment.node.selection_set.node,
                            on,
                            key,
                            keys,
                            found,
                            depth + 1,
                        );
                    }
                }
            }
        }
    }
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(item) => named(item),
    }
}

/// Makes the error's position exist as `null`. Objects on the way that the engine answered as `null`
/// (every field of them failed) become objects again: the path proves they were resolved.
fn materialise(data: &mut Value, steps: &[Step]) {
    let mut slot = data;
    for (i, step) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        slot = match &step.segment {
            PathSegment::Field(key) => {
                if matches!(slot, Value::Null) {
                    *slot = Value::Object(Default::default());
                }
                let Value::Object(map) = slot else { return };
                let name = async_graphql::Name::new(key);
                if !map.contains_key(&name) {
                    map.insert(name.clone(), Value::Null);
                    let rank = |k: &async_graphql::Name| {
                        step.keys
                            .iter()
                            .position(|x| x == k.as_str())
                            .unwrap_or(usize::MAX)
                    };
                    map.sort_by(|a, _, b, _| rank(a).cmp(&rank(b)));
                }
                let Some(next) = map.get_mut(&name) else {
                    return;
                };
                next
            }
            PathSegment::Index(i) => {
                let Value::List(items) = slot else { return };
                let Some(next) = items.get_mut(*i) else {
                    return;
                };
                next
            }
        };
        if last {
            *slot = Value::Null;
        }
    }
}

/// The value at the steps' path, if every step of it still exists.
fn existing<'v>(data: &'v mut Value, steps: &[Step]) -> Option<&'v mut Value> {
    let mut slot = data;
    for step in steps {
        slot = match (&step.segment, slot) {
            (PathSegment::Field(key), Value::Object(map)) => map.get_mut(key.as_str())?,
            (PathSegment::Index(i), Value::List(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(slot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::ServerError;
    use serde_json::json;

    const SDL: &str = "
        type Query { a: A b: A! list: [A!] items: [A]! n: Int! }
        type A { x: Int! y: Int z: A! w: A }
    ";

    fn run(query: &str, data: serde_json::Value, paths: &[&[PathSegment]]) -> serde_json::Value {
        let shapes = OutputTypes::from_sdl(SDL);
        let document = async_graphql::parser::parse_query(query).unwrap();
        let mut response = Response::new(Value::from_json(data).unwrap());
        response.errors = paths
            .iter()
            .map(|p| {
                let mut e = ServerError::new("boom", None);
                e.path = p.to_vec();
                e
            })
            .collect();
        shapes.complete(&mut response, &document, None);
        response.data.into_json().unwrap()
    }

    fn f(s: &str) -> PathSegment {
        PathSegment::Field(s.into())
    }

    #[test]
    fn a_nullable_field_is_present_as_null_in_selection_order() {
        let out = run(
            "{ a { x y } n }",
            json!({ "a": { "x": 1 }, "n": 2 }),
            &[&[f("a"), f("y")]],
        );
        assert_eq!(out, json!({ "a": { "x": 1, "y": null }, "n": 2 }));
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"a":{"x":1,"y":null},"n":2}"#
        );
    }

    #[test]
    fn a_non_null_field_nulls_its_nullable_parent() {
        let out = run(
            "{ a { x y } n }",
            json!({ "a": { "y": 1 }, "n": 2 }),
            &[&[f("a"), f("x")]],
        );
        assert_eq!(out, json!({ "a": null, "n": 2 }));
        // The engine answers an object whose only field failed as null.
        let out = run(
            "{ a { x } n }",
            json!({ "a": null, "n": 2 }),
            &[&[f("a"), f("x")]],
        );
        assert_eq!(out, json!({ "a": null, "n": 2 }));
        let out = run(
            "{ a { w { y } } }",
            json!({ "a": null }),
            &[&[f("a"), f("w"), f("y")]],
        );
        assert_eq!(out, json!({ "a": { "w": { "y": null } } }));
    }

    #[test]
    fn list_items_bubble_to_the_item_or_the_list() {
        let out = run(
            "{ items { x } }",
            json!({ "items": [{ "x": 1 }, null] }),
            &[&[f("items"), PathSegment::Index(1), f("x")]],
        );
        assert_eq!(out, json!({ "items": [{ "x": 1 }, null] }));
        let out = run(
            "{ list { x } n }",
            json!({ "list": [{ "x": 1 }, {}], "n": 1 }),
            &[&[f("list"), PathSegment::Index(1), f("x")]],
        );
        assert_eq!(out, json!({ "list": null, "n": 1 }));
    }

    #[test]
    fn non_null_all_the_way_nulls_data() {
        let out = run(
            "{ b { z { x } } n }",
            json!({ "b": { "z": null }, "n": 1 }),
            &[&[f("b"), f("z"), f("x")]],
        );
        assert_eq!(out, serde_json::Value::Null);
        let out = run("{ n }", serde_json::Value::Null, &[&[f("n")]]);
        assert_eq!(out, serde_json::Value::Null);
    }

    #[test]
    fn aliases_fragments_and_several_errors() {
        let out = run(
            "{ ok: n bad: a { ...F } other: a { y } } fragment F on A { x }",
            json!({ "ok": 1, "other": { "y": 2 } }),
            &[&[f("bad")]],
        );
        assert_eq!(out, json!({ "ok": 1, "bad": null, "other": { "y": 2 } }));
        let out = run(
            "{ a { ... on A { x } y } b { w { x } y } }",
            json!({ "b": { "y": 1 } }),
            &[&[f("a"), f("x")], &[f("b"), f("w"), f("x")]],
        );
        assert_eq!(out, json!({ "a": null, "b": { "w": null, "y": 1 } }));
    }

    #[test]
    fn paths_outside_the_operation_are_left_alone() {
        let out = run("{ a { x } }", json!({ "a": { "x": 1 } }), &[&[f("nope")]]);
        assert_eq!(out, json!({ "a": { "x": 1 } }));
    }
}
