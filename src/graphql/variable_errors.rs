//! A variable whose value does not fit its type is one request error about that variable (GraphQL spec,
//! CoerceVariableValues). The engine checks variables where they are used instead: it reports each
//! argument (and each field) the variable feeds, and names none of them. This folds those reports into
//! one error per variable, placed on the variable's definition.

use std::collections::HashMap;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Pos, Response, ServerError, Value};

/// Rewrites `response`'s pre-execution input errors that stem from one variable each (see the module).
pub fn one_error_per_bad_variable(
    response: &mut Response,
    document: &ExecutableDocument,
    operation: Option<&str>,
) {
    if response.errors.is_empty() {
        return;
    }
    let Some(op) = chosen(document, operation) else {
        return;
    };
    let mut feeds = HashMap::new();
    walk(
        &op.selection_set.node,
        document,
        &mut feeds,
        &mut Vec::new(),
    );
    let definitions: HashMap<&Name, Pos> = op
        .variable_definitions
        .iter()
        .map(|d| (&d.node.name.node, d.pos))
        .collect();
    // Where an error sits (a pre-execution input error with one location) and what feeds that place.
    let fed = |err: &ServerError| -> Option<&[Name]> {
        let coded = err
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .is_some_and(|code| *code == Value::from("BAD_USER_INPUT"));
        match (err.path.is_empty() && coded, err.locations.as_slice()) {
            (true, [at]) => feeds.get(at).map(Vec::as_slice),
            _ => None,
        }
    };
    // A place fed by one variable is that variable's fault; a place fed by several (a field with two
    // variable arguments) is folded into whichever of them is at fault.
    let at_fault: Vec<Name> = response
        .errors
        .iter()
        .filter_map(|err| match fed(err) {
            Some([only]) => Some(only.clone()),
            _ => None,
        })
        .collect();
    let mut folded: Vec<Name> = Vec::new();
    let mut errors = Vec::with_capacity(response.errors.len());
    for mut err in std::mem::take(&mut response.errors) {
        let name = match fed(&err) {
            Some([only]) => only.clone(),
            Some(several) if several.iter().any(|v| at_fault.contains(v)) => continue,
            _ => {
                errors.push(err);
                continue;
            }
        };
        if folded.contains(&name) {
            continue;
        }
        err.message = format!("Variable \"${name}\" got an invalid value: {}", err.message);
        err.locations = definitions.get(&name).copied().into_iter().collect();
        err.extensions
            .get_or_insert_with(Default::default)
            .set("variable", name.as_str());
        folded.push(name);
        errors.push(err);
    }
    response.errors = errors;
}

fn chosen<'a>(
    document: &'a ExecutableDocument,
    operation: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&document.operations, operation) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Every field and argument of `set` (through fragments, each once) whose value uses variables: its
/// position and the variables it uses.
fn walk<'a>(
    set: &'a SelectionSet,
    document: &'a ExecutableDocument,
    feeds: &mut HashMap<Pos, Vec<Name>>,
    seen: &mut Vec<&'a Name>,
) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                let mut used = Vec::new();
                for (name, value) in &field.node.arguments {
                    let mut here = Vec::new();
                    variables(&value.node, &mut here);
                    for variable in &here {
                        if !used.contains(variable) {
                            used.push(variable.clone());
                        }
                    }
                    if !here.is_empty() {
                        feeds.insert(name.pos, here);
                    }
                }
                if !used.is_empty() {
                    feeds.insert(field.pos, used);
                }
                walk(&field.node.selection_set.node, document, feeds, seen);
            }
            Selection::InlineFragment(inline) => {
                walk(&inline.node.selection_set.node, document, feeds, seen);
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                if seen.contains(&name) {
                    continue;
                }
                seen.push(name);
                if let Some(fragment) = document.fragments.get(name) {
                    walk(&fragment.node.selection_set.node, document, feeds, seen);
                }
            }
        }
    }
}

/// The variables `value` uses, each once, in order.
fn variables(value: &async_graphql_value::Value, found: &mut Vec<Name>) {
    use async_graphql_value::Value as V;
    match value {
        V::Variable(name) if !found.contains(name) => found.push(name.clone()),
        V::List(items) => items.iter().for_each(|v| variables(v, found)),
        V::Object(fields) => fields.values().for_each(|v| variables(v, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(message: &str, line: usize, column: usize, path: bool) -> ServerError {
        let mut err = ServerError::new(message, Some(Pos { line, column }));
        err.extensions
            .get_or_insert_with(Default::default)
            .set("code", "BAD_USER_INPUT");
        if path {
            err.path = vec![async_graphql::PathSegment::Field("posts".into())];
        }
        err
    }

    fn fold(query: &str, errors: Vec<ServerError>) -> Vec<ServerError> {
        let document = async_graphql::parser::parse_query(query).unwrap();
        let mut response = Response::new(Value::Null);
        response.errors = errors;
        one_error_per_bad_variable(&mut response, &document, None);
        response.errors
    }

    #[test]
    fn the_reports_of_one_variable_become_one_error_on_its_definition() {
        // `$n` is defined at 1:7; `posts` at 1:19, its argument `first` at 1:25.
        let query = "query($n: Int!) { posts(first: $n) { totalCount } }";
        let errors = fold(
            query,
            vec![
                error("Invalid value for argument \"first\"", 1, 25, false),
                error("Expected input type \"Int\", found \"x\".", 1, 19, false),
            ],
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].locations, [Pos { line: 1, column: 7 }]);
        assert!(
            errors[0]
                .message
                .starts_with("Variable \"$n\" got an invalid value")
        );
        let variable = errors[0]
            .extensions
            .as_ref()
            .and_then(|e| e.get("variable"));
        assert_eq!(variable, Some(&Value::from("n")));
    }

    #[test]
    fn a_field_fed_by_several_variables_is_folded_into_the_one_at_fault() {
        // `$n` at 1:7; the field `a` at 1:31 (fed by $n and $s), its argument `first` at 1:40.
        let query =
            "query($n: Int!, $s: String) { a: posts(first: $n, search: $s) { totalCount } }";
        let errors = fold(
            query,
            vec![
                error("Invalid value for argument \"first\"", 1, 40, false),
                error("Expected input type \"Int\", found \"x\".", 1, 31, false),
            ],
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].locations, [Pos { line: 1, column: 7 }]);
    }

    #[test]
    fn errors_of_resolvers_and_of_literals_are_left_alone() {
        let query = "query($n: Int!) { posts(first: $n) { totalCount } other: posts(first: -1) { totalCount } }";
        let errors = vec![
            // A resolver's error on the field (it has a path): not about the variable's type.
            error("first must be positive", 1, 19, true),
            // A literal's error: no variable in it.
            error("Invalid value for argument \"first\"", 1, 67, false),
        ];
        let kept = fold(query, errors.clone());
        assert_eq!(
            kept.iter().map(|e| &e.message).collect::<Vec<_>>(),
            errors.iter().map(|e| &e.message).collect::<Vec<_>>()
        );
    }

    #[test]
    fn variables_used_through_fragments_and_inside_objects_are_found() {
        let query = "query($t: String!) { ...F } fragment F on Query { search: posts(search: $t) { totalCount } \
                     make: posts(filter: { title: [$t] }) { totalCount } }";
        let document = async_graphql::parser::parse_query(query).unwrap();
        let op = chosen(&document, None).unwrap();
        let mut feeds = HashMap::new();
        walk(
            &op.selection_set.node,
            &document,
            &mut feeds,
            &mut Vec::new(),
        );
        let t: Name = Name::new("t");
        assert_eq!(feeds.values().filter(|v| **v == [t.clone()]).count(), 4);
    }
}
